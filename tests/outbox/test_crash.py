"""A real `inboxcrm outbox dispatch` process SIGKILLed inside each Gmail call and after
Gmail applied one: the next dispatcher, once the leases run out, reconciles first, and
the email is in Gmail exactly once, its Send marked sent."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest

from inboxcrm.config import Settings
from inboxcrm.db import utcnow
from inboxcrm.outbox.dispatch import SEND_LEASE, SLOT_LEASE, dispatch_due
from inboxcrm.outbox.models import SendState
from tests.support.commands import start
from tests.support.outbox import Outbox
from tests.support.sandbox import AVA

pytestmark = [pytest.mark.google, pytest.mark.slow]  # a separate process, watched in real time


def _until(condition: Callable[[], bool], seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the dispatch process never got there"
        time.sleep(0.02)


def _drafts(gmail: Callable[..., Any]) -> int:
    return len(gmail(AVA).users().drafts().list(userId="me").execute().get("drafts", []))


@pytest.mark.parametrize(
    ("operation", "after", "rewrite"),
    [
        ("drafts.create", False, False),  # killed waiting for the create; Gmail makes it
        ("drafts.send", False, False),  # killed waiting for the send; Gmail sends it
        ("drafts.send", False, True),
        ("drafts.send", True, False),  # Gmail sent and answered late: killed before the mark
        ("drafts.send", True, True),
    ],
)
def test_a_dispatcher_killed_mid_send_leaves_no_duplicate_and_no_loss(
    outbox: Outbox,
    google_settings: Settings,
    gmail: Callable[..., Any],
    operation: str,
    after: bool,
    rewrite: bool,
) -> None:
    outbox.control("options", {"rewrite_message_id": rewrite})
    send = outbox.plan()
    slow = {"kind": "slow", "delay": 1.5, "after": after, "operation": operation}
    outbox.control("faults", slow)
    process = start(google_settings, "outbox", "dispatch")
    try:
        if after:  # Gmail has sent it; the answer is on its way
            _until(lambda: len(outbox.sent()) == 1)
        else:  # the call is in flight
            _until(lambda: outbox.control("faults", method="GET")["faults"] == [])
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    # Gmail finishes what it was asked (the sandbox's slow answer runs on by itself).
    if operation == "drafts.create":
        _until(lambda: _drafts(gmail) == 1)
    else:
        _until(lambda: len(outbox.sent()) == 1)
    send = outbox.refresh(send)
    assert send.state is SendState.committed  # as the dead process left it
    assert dispatch_due(outbox.runtime, utcnow()).sent == 0  # its leases still hold
    later = utcnow() + max(SEND_LEASE, SLOT_LEASE)
    assert dispatch_due(outbox.runtime, later).sent == 1
    send = outbox.refresh(send)
    assert send.state is SendState.sent
    (sent,) = outbox.sent()  # exactly once
    assert sent["id"] == send.gmail_id
    assert _drafts(gmail) == 0
    assert dispatch_due(outbox.runtime, later + SLOT_LEASE).sent == 0
