"""The clock's sync tick, from a Google sign-in to stored mail, on the sandbox."""

from __future__ import annotations

import datetime as dt
import json

import pytest
import requests
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.crypto import TokenBox
from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState
from inboxcrm.cli import main
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.mail.jobs import (
    LEASE,
    POLL_EVERY,
    SYNC_TICK,
    claim_due,
    sync_claimed,
    sync_due,
)
from inboxcrm.mail.models import Message
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS
from tests.factories import MailboxFactory, MemberFactory
from tests.support.commands import environment
from tests.support.sandbox import AVA
from tests.support.web import google_signin

pytestmark = pytest.mark.google

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_each_due_mailbox_is_claimed_once(db: Database, session: Session) -> None:
    member = MemberFactory()
    boxes = [MailboxFactory(member=member, email=f"m{i}@team.example") for i in range(4)]
    boxes[1].next_poll_at = NOW + dt.timedelta(minutes=3)  # not due yet
    boxes[2].status = MailboxStatus.disconnected
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
    ticked = utcnow()
    for running in sync_due(Runtime(db, google_settings), ticked, SYNC_STEPS):
        running.result()
    mailbox = session.scalars(select(Mailbox)).one()
    session.refresh(mailbox)
    assert mailbox.sync_state is SyncState.idle
    stored = session.scalar(select(func.count()).select_from(Message))
    assert stored == mailbox.synced_messages > 100
    assert mailbox.next_poll_at is not None
    # Due again so that a tick claims it within one poll interval of this pass's start.
    assert ticked + POLL_EVERY - SYNC_TICK <= mailbox.next_poll_at
    assert mailbox.next_poll_at <= utcnow() + POLL_EVERY - SYNC_TICK
    assert "up to date" in client.get("/mailboxes").text


def test_the_sync_command_syncs_a_mailbox_to_the_end(
    client: FlaskClient, session: Session, google_settings: Settings, sandbox: RunningSandbox
) -> None:
    requests.post(f"{sandbox.url}/_sandbox/reset", json={"seed": "demo"}, timeout=10)
    google_signin(client, AVA)
    result = CliRunner().invoke(
        main, ["sync", "--mailbox", AVA.upper()], env=environment(google_settings)
    )
    assert result.exit_code == 0, result.output
    mailbox = session.scalars(select(Mailbox)).one()
    session.refresh(mailbox)
    stored = session.scalar(select(func.count()).select_from(Message))
    assert f"{AVA}: {stored:,} messages, up to date" in result.output
    assert stored == mailbox.synced_messages > 100
    assert mailbox.next_poll_at is not None  # the clock takes over from here


def test_the_sync_command_explains_what_it_cannot_sync(
    client: FlaskClient, session: Session, google_settings: Settings
) -> None:
    env = environment(google_settings)
    unknown = CliRunner().invoke(main, ["sync", "--mailbox", "nobody@northwind.io"], env=env)
    assert unknown.exit_code == 1
    assert "no mailbox nobody@northwind.io" in unknown.output
    google_signin(client, AVA)
    mailbox = session.scalars(select(Mailbox)).one()
    mailbox.sync_state, mailbox.next_poll_at = SyncState.syncing, utcnow() + LEASE
    session.commit()
    busy = CliRunner().invoke(main, ["sync", "--mailbox", AVA], env=env)
    assert "being synced by the clock right now" in busy.output
    mailbox.status = MailboxStatus.needs_reconnect
    session.commit()
    revoked = CliRunner().invoke(main, ["sync", "--mailbox", AVA], env=env)
    assert "needs reconnect" in revoked.output


def _access_token(db: Database, settings: Settings) -> str:
    with db.session() as session:
        mailbox = session.scalars(select(Mailbox)).one()
        assert mailbox.token_ciphertext is not None
        tokens = TokenBox(settings.token_key).open(mailbox.token_ciphertext)
    token: str = json.loads(tokens)["token"]
    return token


def test_a_refreshed_access_token_is_kept_for_the_next_passes(
    client: FlaskClient, db: Database, google_settings: Settings, sandbox: RunningSandbox
) -> None:
    control = f"{sandbox.url}/_sandbox"
    requests.post(f"{control}/reset", json={"seed": "demo"}, timeout=10)
    google_signin(client, AVA)
    runtime = Runtime(db, google_settings, workers=1)
    first = _access_token(db, google_settings)
    assert sync_claimed(runtime, 1, SYNC_STEPS, stop=lambda: False) is SyncState.idle
    assert _access_token(db, google_settings) == first  # still valid: no refresh

    requests.post(f"{control}/clock", json={"advance": 7200}, timeout=10)  # Google expires it
    assert sync_claimed(runtime, 1, SYNC_STEPS, stop=lambda: False) is SyncState.idle
    second = _access_token(db, google_settings)
    assert second != first
    assert sync_claimed(runtime, 1, SYNC_STEPS, stop=lambda: False) is SyncState.idle
    assert _access_token(db, google_settings) == second
