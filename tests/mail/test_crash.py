"""A sync process killed mid-pass: the next pass resumes, and every message is stored once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm import create_app
from inboxcrm.accounts.models import Mailbox, SyncState
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.mail.jobs import LEASE, claim, claim_due, sync_claimed
from inboxcrm.mail.models import Message
from inboxcrm.mail.sync import CHUNK
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.scheduler import Runtime
from tests.accounts.test_google import AVA, google_signin
from tests.mail.test_jobs import _environment
from tests.mail.test_sync import gmail_ids
from tests.sandbox.conftest import control, credentials, gmail

__all__ = ["control", "credentials", "gmail"]


@pytest.fixture
def app(google_settings: Settings) -> Flask:
    return create_app(google_settings)


def _stored(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Message)) or 0


def test_a_killed_sync_resumes_after_its_lease_with_every_message_once(
    client: FlaskClient,
    session: Session,
    db: Database,
    google_settings: Settings,
    sandbox: RunningSandbox,
    gmail: Callable[..., Any],
) -> None:
    control = f"{sandbox.url}/_sandbox"
    requests.post(f"{control}/reset", json={"seed": "demo"}, timeout=10)
    for i in range(CHUNK * 2):  # enough mail for several committed batches
        eml = f"From: p{i}@newco.example\r\nTo: {AVA}\r\nSubject: Hi {i}\r\n\r\nHello\r\n"
        requests.post(f"{control}/deliver", json={"to": AVA, "eml": eml}, timeout=10)
    google_signin(client, AVA)
    mailbox = session.scalars(select(Mailbox)).one()
    # Each messages.get is slowed, so the kill lands part-way through the full sync.
    slow = {"kind": "slow", "delay": 0.02, "count": 100_000, "operation": "messages.get"}
    requests.post(f"{control}/faults", json=slow, timeout=10)
    command = [sys.executable, "-c", "from inboxcrm.cli import main; main()"]
    process = subprocess.Popen(
        [*command, "sync", "--mailbox", AVA],
        env={**os.environ, **_environment(google_settings)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while _stored(session) < CHUNK and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    requests.delete(f"{control}/faults", timeout=10)
    partial = _stored(session)
    session.refresh(mailbox)
    assert partial >= CHUNK
    assert mailbox.sync_state is SyncState.syncing  # as the dead process left it
    assert mailbox.full_sync_history_id is not None

    runtime = Runtime(db, google_settings, workers=1)
    assert not claim(db, mailbox.id, utcnow())  # its lease still holds
    assert claim_due(db, utcnow() + LEASE) == [mailbox.id]  # a tick once it has run out
    assert sync_claimed(runtime, mailbox.id, stop=lambda: False) is SyncState.idle

    ids = list(session.scalars(select(Message.gmail_id)))
    assert len(ids) == len(set(ids))  # none doubled
    assert set(ids) == gmail_ids(gmail(AVA))  # none lost
    session.refresh(mailbox)
    assert mailbox.synced_messages == len(ids)
