"""The clock's sync tick, from a Google sign-in to stored mail, on the sandbox."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.mailbox.jobs import LEASE, claim_due, sync_due
from inboxcrm.mailbox.models import Message
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.scheduler import Runtime
from tests.accounts.test_google import AVA, google_signin
from tests.factories import MemberFactory

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def app(google_settings: Settings):  # type: ignore[no-untyped-def]
    from inboxcrm import create_app

    return create_app(google_settings)


def test_each_due_mailbox_is_claimed_once(db: Database, session: Session) -> None:
    member = MemberFactory()
    boxes = [
        Mailbox(workspace_id=member.workspace_id, member_id=member.id, email=f"m{i}@team.example")
        for i in range(4)
    ]
    boxes[1].next_poll_at = NOW + dt.timedelta(minutes=5)  # not due yet
    boxes[2].status = MailboxStatus.disconnected
    session.add_all(boxes)
    session.commit()
    first = claim_due(db, NOW)
    assert first == [boxes[0].id, boxes[3].id]
    assert claim_due(db, NOW) == []  # a second clock ticking at once gets nothing
    assert claim_due(db, NOW + LEASE) == [boxes[1].id, boxes[0].id, boxes[3].id]


def test_a_connected_mailbox_is_synced_by_the_clock(
    client: FlaskClient,
    session: Session,
    db: Database,
    google_settings: Settings,
    sandbox: RunningSandbox,
) -> None:
    requests.post(f"{sandbox.url}/_sandbox/reset", json={"seed": "demo"}, timeout=10)
    google_signin(client, AVA)
    for running in sync_due(Runtime(db, google_settings), utcnow()):
        running.result()
    mailbox = session.scalars(select(Mailbox)).one()
    session.refresh(mailbox)
    assert mailbox.sync_state is SyncState.idle
    stored = session.scalar(select(func.count()).select_from(Message))
    assert stored == mailbox.synced_messages > 100
    assert mailbox.next_poll_at is not None
    assert mailbox.next_poll_at > utcnow() + dt.timedelta(seconds=50)
    assert "up to date" in client.get("/mailboxes").text
