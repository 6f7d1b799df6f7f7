"""Dispatch through the sandbox's Gmail, with the real client: each Send goes exactly once,
whatever Gmail does to the answer, and whether Gmail keeps our Message-ID or not."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest

from inboxcrm.db import utcnow
from inboxcrm.outbox.dispatch import RETRY, SEND_LEASE, dispatch_due
from inboxcrm.outbox.models import MailboxSending, SendState, SourceKind
from inboxcrm.outbox.reconcile import Sought, find_draft, find_sent
from tests.support.outbox import Outbox
from tests.support.sandbox import AVA

pytestmark = pytest.mark.google

BEHAVIOURS = pytest.mark.parametrize("rewrite", [False, True], ids=["id-kept", "id-rewritten"])


def _later(outbox: Outbox, after: dt.timedelta) -> dt.datetime:
    """A dispatcher's `now` once the mailbox's slot and the send's retry have come."""
    outbox.session.expire_all()
    slot = outbox.session.query(MailboxSending).one()
    base = max(utcnow(), slot.next_slot_at or utcnow())
    return base + after


def _drafts(gmail: Callable[..., Any]) -> list[Any]:
    return list(gmail(AVA).users().drafts().list(userId="me").execute().get("drafts", []))


def test_a_planned_send_goes_once_with_its_message_id_and_gmail_ids(outbox: Outbox) -> None:
    send = outbox.plan(subject="Our proposal")
    tally = dispatch_due(outbox.runtime, utcnow())
    assert tally.sent == 1
    send = outbox.refresh(send)
    assert send.state is SendState.sent
    assert send.gmail_id
    assert send.gmail_thread_id
    assert send.sent_at is not None
    (sent,) = outbox.sent()
    assert sent["messageId"] == send.message_id
    assert sent["recipients"] == [send.to_email]
    assert sent["subject"] == "Our proposal"
    assert dispatch_due(outbox.runtime, _later(outbox, RETRY)).sent == 0  # nothing twice


def test_planning_the_same_source_and_lead_twice_is_one_send(outbox: Outbox) -> None:
    lead = outbox.lead()
    first = outbox.plan(lead, source="42")
    second = outbox.plan(lead, source="42")
    assert first.id == second.id
    assert outbox.plan(lead, source="42", kind=SourceKind.step).id != first.id


@BEHAVIOURS
@pytest.mark.parametrize("fault", [{"kind": "drop"}, {"kind": "error", "status": 500}])
def test_a_send_whose_answer_is_lost_is_found_sent_and_never_sent_again(
    outbox: Outbox, rewrite: bool, fault: dict[str, Any]
) -> None:
    """Gmail sends, then the connection drops or a 500 comes back. (On a dropped
    connection httplib2 itself sends the request again at once: with messages.send that
    would be a second email; with drafts.send it is a 404, and the search finds it.)"""
    outbox.control("options", {"rewrite_message_id": rewrite})
    outbox.control("faults", {**fault, "after": True, "operation": "drafts.send"})
    send = outbox.plan()
    dispatch_due(outbox.runtime, utcnow())
    assert len(outbox.sent()) == 1
    if outbox.refresh(send).state is SendState.committed:  # the 500: Gmail's word was lost
        assert outbox.refresh(send).draft_id
        assert dispatch_due(outbox.runtime, _later(outbox, RETRY)).sent == 1
    send = outbox.refresh(send)
    assert send.state is SendState.sent
    (sent,) = outbox.sent()  # still one
    assert send.gmail_id == sent["id"]
    assert (sent["messageId"] == send.message_id) is not rewrite
    assert dispatch_due(outbox.runtime, _later(outbox, RETRY)).sent == 0


@BEHAVIOURS
def test_a_draft_whose_creation_answer_is_lost_is_adopted_not_doubled(
    outbox: Outbox, gmail: Callable[..., Any], rewrite: bool
) -> None:
    outbox.control("options", {"rewrite_message_id": rewrite})
    outbox.control("faults", {"kind": "drop", "after": True, "operation": "drafts.create"})
    send = outbox.plan()
    outbox.control("faults", {"kind": "error", "status": 503, "operation": "drafts.create"})
    dispatch_due(outbox.runtime, utcnow())  # httplib2 sends the create again: refused
    assert len(_drafts(gmail)) == 1  # Gmail made the draft; we never heard its id
    assert outbox.refresh(send).draft_id is None
    assert dispatch_due(outbox.runtime, _later(outbox, RETRY)).sent == 1
    assert _drafts(gmail) == []  # the orphan was the one sent
    assert len(outbox.sent()) == 1
    assert outbox.refresh(send).state is SendState.sent


def test_a_draft_made_twice_by_the_clients_own_resend_is_sent_once_and_tidied(
    outbox: Outbox, gmail: Callable[..., Any]
) -> None:
    outbox.control("faults", {"kind": "drop", "after": True, "operation": "drafts.create"})
    send = outbox.plan()
    assert dispatch_due(outbox.runtime, utcnow()).sent == 1  # the resend's answer came back
    assert outbox.refresh(send).state is SendState.sent
    assert len(outbox.sent()) == 1
    assert _drafts(gmail) == []  # the first create's draft, never sent, is deleted


def test_a_draft_never_made_is_made_once_after_a_refused_create(outbox: Outbox) -> None:
    outbox.control("faults", {"kind": "error", "status": 503, "operation": "drafts.create"})
    send = outbox.plan()
    assert dispatch_due(outbox.runtime, utcnow()).retried == 1
    assert dispatch_due(outbox.runtime, _later(outbox, RETRY)).sent == 1
    assert len(outbox.sent()) == 1
    assert outbox.refresh(send).state is SendState.sent


def test_a_draft_deleted_in_gmail_before_sending_fails_and_is_not_resent(
    outbox: Outbox, gmail: Callable[..., Any]
) -> None:
    outbox.control("faults", {"kind": "error", "status": 503, "operation": "drafts.send"})
    send = outbox.plan()
    dispatch_due(outbox.runtime, utcnow())
    (draft,) = _drafts(gmail)
    gmail(AVA).users().drafts().delete(userId="me", id=draft["id"]).execute()
    dispatch_due(outbox.runtime, _later(outbox, RETRY))
    send = outbox.refresh(send)
    assert send.state is SendState.failed
    assert "deleted" in (send.error or "")
    assert outbox.sent() == []


@BEHAVIOURS
def test_the_mailbox_search_finds_a_sent_message_by_id_or_by_token(
    outbox: Outbox, rewrite: bool
) -> None:
    outbox.control("options", {"rewrite_message_id": rewrite})
    send = outbox.plan()
    dispatch_due(outbox.runtime, utcnow())
    send = outbox.refresh(send)
    from inboxcrm.accounts.connection import gmail_calls

    calls = gmail_calls(outbox.runtime, outbox.mailbox)
    assert send.message_id
    assert send.token
    assert send.committed_at
    sought = Sought(send.message_id, send.token, send.to_email, send.committed_at)
    found = find_sent(calls, sought)
    assert found is not None
    assert found.gmail_id == send.gmail_id
    assert find_draft(calls, sought) is None
    stranger = Sought("<nobody@x.example>", "0" * 32, send.to_email, send.committed_at)
    assert find_sent(calls, stranger) is None


def test_a_refused_recipient_fails_with_gmails_error(outbox: Outbox) -> None:
    outbox.control("faults", {"kind": "error", "status": 400, "message": "Invalid To header",
                              "operation": "drafts.send"})  # fmt: skip
    send = outbox.plan()
    assert dispatch_due(outbox.runtime, utcnow()).failed == 1
    send = outbox.refresh(send)
    assert send.state is SendState.failed
    assert "Invalid To header" in (send.error or "")
    assert outbox.sent() == []


def test_a_send_claimed_by_a_process_that_died_goes_once_after_the_lease(outbox: Outbox) -> None:
    from inboxcrm import queue
    from inboxcrm.outbox.models import Send

    send = outbox.plan()
    now = utcnow()
    with outbox.db.session() as s:  # a dispatcher claims, then dies before committing
        assert queue.claim(s, Send.due_at, now, SEND_LEASE, limit=1) == [send.id]
    assert dispatch_due(outbox.runtime, now).sent == 0  # its lease holds
    assert dispatch_due(outbox.runtime, now + SEND_LEASE).sent == 1
    assert len(outbox.sent()) == 1
