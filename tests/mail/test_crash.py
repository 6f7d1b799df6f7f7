"""A sync process killed mid-pass: the next pass resumes, and every message is stored once."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, SyncState
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.leads.models import Lead, ThreadLead
from inboxcrm.mail.jobs import LEASE, claim, claim_due, sync_claimed
from inboxcrm.mail.models import Message, Thread
from inboxcrm.mail.sync import CHUNK
from inboxcrm.runtime import Runtime, run_job
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS, jobs
from tests.support.commands import start
from tests.support.mail import raw_eml
from tests.support.sandbox import AVA, BEN, gmail_ids
from tests.support.web import google_signin

pytestmark = [pytest.mark.google, pytest.mark.slow]  # a separate process, watched in real time


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
    process = start(google_settings, "sync", "--mailbox", AVA)
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
    assert sync_claimed(runtime, mailbox.id, SYNC_STEPS, stop=lambda: False) is SyncState.idle

    ids = list(session.scalars(select(Message.gmail_id)))
    assert len(ids) == len(set(ids))  # none doubled
    assert set(ids) == gmail_ids(gmail(AVA))  # none lost
    session.refresh(mailbox)
    assert mailbox.synced_messages == len(ids)


def test_a_sync_killed_after_a_batch_commits_still_links_the_new_lead_to_older_mail(
    client: FlaskClient,
    session: Session,
    db: Database,
    google_settings: Settings,
    sandbox: RunningSandbox,
) -> None:
    control = f"{sandbox.url}/_sandbox"
    requests.post(f"{control}/reset", json={"seed": "empty"}, timeout=10)
    google_signin(client, BEN)
    google_signin(client, AVA)
    ben, ava = (
        session.scalars(select(Mailbox).where(Mailbox.email == e)).one() for e in (BEN, AVA)
    )
    runtime = Runtime(db, google_settings, workers=1)
    # Nina wrote to Ben, who never answered: stored, but not a lead.
    nina_to_ben = raw_eml("From: Nina Berg <nina@vandelay.example>", f"To: {BEN}", "Subject: Hi")
    requests.post(f"{control}/deliver", json={"to": BEN, "eml": nina_to_ben}, timeout=10)
    assert sync_claimed(runtime, ben.id, SYNC_STEPS, stop=lambda: False) is SyncState.idle
    assert session.scalars(select(Lead)).first() is None
    # Ava writes to Nina: her sync makes Nina a lead, and is killed once that is committed.
    proposal = raw_eml(f"From: {AVA}", "To: nina@vandelay.example", "Subject: Proposal")
    requests.post(
        f"{control}/deliver", json={"to": AVA, "eml": proposal, "labelIds": ["SENT"]}, timeout=10
    )
    process = start(google_settings, "sync", "--mailbox", AVA)
    try:
        deadline = time.monotonic() + 60
        while session.scalars(select(Lead)).first() is None and time.monotonic() < deadline:
            session.rollback()
            time.sleep(0.01)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    session.expire_all()
    nina = session.scalars(select(Lead)).unique().one()
    assert nina.link_mail_at is not None  # queued in the batch that made her

    def linked_mailboxes() -> list[int]:
        session.expire_all()
        rows = session.scalars(
            select(Thread.mailbox_id)
            .join(ThreadLead, ThreadLead.thread_id == Thread.id)
            .where(ThreadLead.lead_id == nina.id)
        )
        return sorted(rows)

    assert ben.id not in linked_mailboxes()  # the dead process never got to it
    link = next(job for job in jobs() if job.id == "link_mail")
    run_job(runtime, link)
    assert linked_mailboxes() == sorted([ava.id, ben.id])
    session.refresh(nina)
    assert nina.link_mail_at is None
