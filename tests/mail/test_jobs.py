"""The clock's sync tick, from a Google sign-in to stored mail, on the sandbox."""

from __future__ import annotations

import datetime as dt
import itertools
import json
from concurrent.futures import wait
from dataclasses import replace
from typing import Any

import pytest
import requests
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.crypto import TokenBox
from inboxcrm.accounts.models import Mailbox, MailboxStatus, Role, SyncState
from inboxcrm.cli import main
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.mail.jobs import (
    LEASE,
    POLL_EVERY,
    claim,
    claim_due,
    in_phase,
    next_poll,
    sync_claimed,
    sync_due,
)
from inboxcrm.mail.models import Message
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS
from tests.factories import MailboxFactory, MemberFactory
from tests.support.commands import environment
from tests.support.sandbox import AVA, BEN, MIA
from tests.support.web import csrf_token, google_signin, sign_in

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
    assert not claim(db, boxes[0].id, NOW)  # nor the `sync` command, while a clock holds it
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
    # Due again at its place in the poll interval, about one interval on.
    assert mailbox.next_poll_at == in_phase(mailbox.id, mailbox.next_poll_at - POLL_EVERY / 2)
    assert ticked + POLL_EVERY / 2 < mailbox.next_poll_at <= utcnow() + POLL_EVERY * 1.5
    assert "up to date" in client.get("/mailboxes").text


def test_a_teams_polls_are_spread_over_the_minute_and_each_mailbox_polled_once_in_it() -> None:
    start = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    period = POLL_EVERY.total_seconds()
    offsets = sorted((in_phase(i, start) - start).total_seconds() % period for i in range(1, 1001))
    gaps = [b - a for a, b in itertools.pairwise(offsets)]
    assert max(gaps) < 3 * period / 1000  # no burst, no hole: evenly spread
    # A mailbox polled a little late stays in its place: the next poll is one interval on.
    first = in_phase(7, start)
    late = first + dt.timedelta(seconds=2)
    assert next_poll(7, SyncState.idle, late) == first + POLL_EVERY
    assert next_poll(7, SyncState.failed, late) == first + POLL_EVERY


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


def test_one_tick_keeps_a_single_worker_polling_every_due_mailbox(
    client: FlaskClient, session: Session, db: Database, google_settings: Settings
) -> None:
    for person in (AVA, BEN, MIA):
        google_signin(client, person)
    runtime = Runtime(db, google_settings, workers=1)
    futures = sync_due(runtime, utcnow(), SYNC_STEPS)
    assert len(futures) == 1  # one worker, not one pass per tick
    for future in futures:
        future.result()
    boxes = session.scalars(select(Mailbox)).all()
    for box in boxes:
        session.refresh(box)
    assert [b.sync_state for b in boxes] == [SyncState.idle] * 3
    assert all(b.last_synced_at is not None for b in boxes)


def test_workers_go_on_polling_while_mailboxes_come_due_and_stop_ends_them_idle(
    client: FlaskClient, session: Session, db: Database, google_settings: Settings
) -> None:
    # Polled every second, each mailbox is due again within a tick of its pass: the
    # workers never run out of work, as in a team whose first syncs outlast half a poll
    # interval. Their futures do not end on their own; stopping the runtime ends them.
    for person in (AVA, BEN, MIA):
        google_signin(client, person)
    runtime = Runtime(db, replace(google_settings, poll_seconds=1), workers=2)
    futures = sync_due(runtime, utcnow(), SYNC_STEPS)
    polled = select(func.count()).where(Mailbox.last_synced_at.is_not(None))
    again = select(func.min(Mailbox.last_synced_at)).select_from(Mailbox)
    first: dt.datetime | None = None
    for _ in range(600):  # every mailbox synced, then each polled once more
        with db.session() as s:
            if s.scalar(polled.select_from(Mailbox)) == 3:
                latest = s.scalar(again)
                first = first or latest
                if latest is not None and latest > first:
                    break
        wait(futures, timeout=0.05)
    assert not all(f.done() for f in futures)  # still polling (or waiting for the next)
    runtime.stop()
    assert all(f.done() for f in futures)
    boxes = session.scalars(select(Mailbox)).all()
    for box in boxes:
        session.refresh(box)
    # No mailbox left claimed: each pass under way ended, none began after the stop.
    assert [b.sync_state for b in boxes] == [SyncState.idle] * 3
    assert all(b.next_poll_at is not None and b.next_poll_at < utcnow() + LEASE for b in boxes)


def test_an_idle_poll_reads_its_mailbox_once_writes_it_once_and_asks_gmail_once(
    client: FlaskClient,
    session: Session,
    db: Database,
    google_settings: Settings,
    sandbox: RunningSandbox,
) -> None:
    google_signin(client, AVA)
    runtime = Runtime(db, google_settings, workers=1)
    for future in sync_due(runtime, utcnow(), SYNC_STEPS):  # the first, full sync
        future.result()
    mailbox = session.scalars(select(Mailbox)).one()
    session.refresh(mailbox)
    history_id = mailbox.history_id
    before = requests.get(f"{sandbox.url}/_sandbox/quota", params={"user": AVA}, timeout=10)
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split(None, 1)[0].upper())

    due = utcnow()
    with db.session() as s:
        s.get_one(Mailbox, mailbox.id).next_poll_at = due
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        for future in sync_due(runtime, due, SYNC_STEPS):
            future.result()
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    after = requests.get(f"{sandbox.url}/_sandbox/quota", params={"user": AVA}, timeout=10)
    assert after.json()["used"] - before.json()["used"] == 2  # one history.list, 2 units
    # The claim (a SELECT, and an UPDATE that reads the row back), the row written once;
    # then the worker's look for more work, which in a busy clock is the next poll's claim.
    assert statements == ["SELECT", "UPDATE", "UPDATE", "SELECT"]
    session.refresh(mailbox)
    assert mailbox.sync_state is SyncState.idle
    assert mailbox.history_id == history_id
    assert mailbox.next_poll_at is not None
    assert mailbox.next_poll_at > due


def test_healthz_shows_whether_the_polls_keep_up(client: FlaskClient, session: Session) -> None:
    now = utcnow()
    member = MemberFactory()
    MailboxFactory(member=member, email="on.time@team.example", next_poll_at=now + LEASE)
    late = MailboxFactory(member=member, email="late@team.example")
    late.next_poll_at, late.last_synced_at = now - dt.timedelta(seconds=90), now - POLL_EVERY * 2
    fresh = MailboxFactory(member=member, email="fresh@team.example", next_poll_at=now)
    fresh.last_synced_at = now - dt.timedelta(seconds=5)
    session.commit()
    polls = client.get("/healthz").json["polls"]
    assert polls["connected_mailboxes"] == 3
    assert polls["polled_last_minute"] == 1
    assert 90 <= polls["overdue_s"] < 120


def test_an_admin_sees_on_the_gmail_page_whether_the_teams_polls_keep_up(
    client: FlaskClient, session: Session
) -> None:
    now = utcnow()
    admin = MemberFactory(role=Role.admin)
    rep = MemberFactory(workspace=admin.workspace)
    MailboxFactory(member=admin, email="admin@team.example", next_poll_at=now - POLL_EVERY * 3)
    MailboxFactory(member=rep, email="rep@team.example", next_poll_at=now + LEASE)
    MailboxFactory(email="other@elsewhere.example", next_poll_at=now - POLL_EVERY * 60)
    session.commit()
    page = sign_in(client, admin).get("/mailboxes").text
    assert "2 connected mailboxes: 0 checked in the last poll interval" in page
    assert "the longest waiting is 3 min late" in page  # the other workspace's is not ours
    client.post("/signout", data={"csrf_token": csrf_token(page)})
    assert "checked in the last poll interval" not in sign_in(client, rep).get("/mailboxes").text
