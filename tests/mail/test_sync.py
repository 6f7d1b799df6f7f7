"""Sync against the sandbox's seeded team mailbox, through the real client libraries."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState
from inboxcrm.db import Database
from inboxcrm.gmail.calls import GmailCalls, RetryPolicy
from inboxcrm.gmail.pacing import TokenBucket
from inboxcrm.mail import sync
from inboxcrm.mail.models import Message
from inboxcrm.mail.steps import Batch, SyncSteps
from inboxcrm.mail.sync import sync_mailbox
from inboxcrm.setup import SYNC_STEPS
from tests.factories import MailboxFactory
from tests.support.clocks import FakeClock, SandboxClock
from tests.support.sandbox import AVA, IDENTITY, Control, gmail_ids
from tests.support.web import sign_in

HELLO = (
    "From: zed@newco.example\r\nTo: ava.reed@northwind.io\r\nSubject: Hello\r\n"
    "Message-ID: <hello@newco.example>\r\n\r\nAre you free?\r\n"
)
LATE = "From: late@newco.example\r\nSubject: Late\r\n\r\nHi\r\n"


@pytest.fixture
def demo(control: Control) -> Control:
    control("reset", {"seed": "demo"})
    return control


@pytest.fixture
def mailbox(session: Session) -> Mailbox:
    return MailboxFactory(email=AVA)


@pytest.fixture
def calls(demo: Control, gmail: Callable[..., Any]) -> GmailCalls:
    clock = SandboxClock(demo)  # our waits move the sandbox's time, so its quota refills
    policy = RetryPolicy(attempts=3)
    return GmailCalls(
        gmail(AVA), TokenBucket(clock), clock=clock, policy=policy, random=lambda: 0.5
    )


def stored(session: Session, mailbox: Mailbox) -> list[str]:
    session.expire_all()
    return list(session.scalars(select(Message.gmail_id).where(Message.mailbox_id == mailbox.id)))


def run(db: Database, mailbox: Mailbox, calls: GmailCalls, chunk: int = sync.CHUNK) -> SyncState:
    return sync_mailbox(db, mailbox.id, calls, calls.clock.now, SYNC_STEPS, chunk=chunk)


def test_full_then_incremental_sync_stores_every_message_once(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    gmail: Callable[..., Any],
    demo: Control,
) -> None:
    service = gmail(AVA)
    expected = gmail_ids(service)
    assert len(expected) > 100
    assert run(db, mailbox, calls) is SyncState.idle
    ids = stored(session, mailbox)
    assert sorted(ids) == sorted(expected)  # none lost, none doubled
    session.refresh(mailbox)
    assert mailbox.history_id is not None
    assert mailbox.full_sync_page_token is None
    assert mailbox.synced_messages == len(expected)

    # New mail, a label change and a deletion arrive through history.
    new = demo(
        "deliver",
        {
            "to": AVA,
            "eml": HELLO,
        },
    )
    victim, relabelled = sorted(expected)[:2]
    service.users().messages().trash(userId="me", id=relabelled).execute()
    full_access = gmail(AVA, (*IDENTITY, "https://mail.google.com/"))  # delete needs it
    full_access.users().messages().delete(userId="me", id=victim).execute()
    assert run(db, mailbox, calls) is SyncState.idle
    ids = stored(session, mailbox)
    assert new["id"] in ids
    assert victim not in ids
    assert len(ids) == len(set(ids)) == len(expected)
    labels = session.scalars(select(Message.label_ids).where(Message.gmail_id == relabelled)).one()
    assert "TRASH" in labels
    # A poll that finds nothing new costs one call.
    calls_before = calls.stats.calls
    run(db, mailbox, calls)
    assert calls.stats.calls - calls_before == 1


def test_a_sync_cut_short_resumes_without_loss_or_doubles(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    gmail: Callable[..., Any],
    demo: Control,
) -> None:
    expected = gmail_ids(gmail(AVA))
    # Gmail's quota runs dry after the first hundred messages and our clock cannot wait it
    # out: the pass stops part-way, with what it fetched committed, as after a crash.
    demo("options", {"quota_units_per_minute": 700})
    clock = FakeClock()
    starved = GmailCalls(
        gmail(AVA), TokenBucket(clock), clock=clock, policy=RetryPolicy(attempts=2)
    )
    assert run(db, mailbox, starved, chunk=100) is SyncState.throttled
    partial = stored(session, mailbox)
    assert 0 < len(partial) < len(expected)
    session.refresh(mailbox)
    assert mailbox.full_sync_history_id is not None  # the cursor survived
    demo("options", {"quota_units_per_minute": 0})
    calls = GmailCalls(gmail(AVA), TokenBucket(clock), clock=clock)
    assert run(db, mailbox, calls, chunk=100) is SyncState.idle
    assert sorted(stored(session, mailbox)) == sorted(expected)


def test_expired_history_resyncs_and_keeps_rows(
    db: Database, session: Session, mailbox: Mailbox, calls: GmailCalls, demo: Control
) -> None:
    run(db, mailbox, calls)
    before = stored(session, mailbox)
    session.refresh(mailbox)
    new = demo("deliver", {"to": AVA, "eml": LATE})
    demo("history/expire", {"mailbox": AVA, "before": (mailbox.history_id or 0) + 1})
    assert run(db, mailbox, calls) is SyncState.idle
    assert sorted(stored(session, mailbox)) == sorted([*before, new["id"]])
    count = session.scalar(select(func.count()).select_from(Message))
    assert count == len(before) + 1


def test_a_revoked_grant_asks_for_reconnecting_and_stops(
    db: Database, session: Session, mailbox: Mailbox, calls: GmailCalls, demo: Control
) -> None:
    demo("grants/revoke", {"email": AVA})
    assert run(db, mailbox, calls) is SyncState.failed
    session.refresh(mailbox)
    assert mailbox.status is MailboxStatus.needs_reconnect
    assert mailbox.last_error is not None


def test_the_gmail_page_shows_live_progress_while_syncing(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    client: FlaskClient,
) -> None:
    sign_in(client, mailbox.member)
    seen: list[dict[str, Any]] = []

    def look(stored: int, estimate: int | None) -> None:
        seen.append(client.get("/mailboxes/status").get_json()["mailboxes"][0])

    # Several commits even in this small mailbox.
    sync_mailbox(db, mailbox.id, calls, calls.clock.now, SYNC_STEPS, progress=look, chunk=100)
    first = seen[0]
    assert first["sync_state"] == "syncing"
    assert first["estimate"] > first["synced_messages"] > 0
    assert "Syncing: 100 of about" in first["html"]
    assert '<progress max="100"' in first["html"]
    counts = [s["synced_messages"] for s in seen]
    assert counts == sorted(counts)
    assert counts[-1] > counts[0]
    done = client.get("/mailboxes/status").get_json()["mailboxes"][0]
    assert done["sync_state"] == "idle"
    assert done["estimate"] is None
    assert "up to date as of" in done["html"]


def test_a_pass_asked_to_stop_ends_after_a_batch_and_the_next_goes_on(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    gmail: Callable[..., Any],
) -> None:
    expected = gmail_ids(gmail(AVA))
    now = calls.clock.now
    state = sync_mailbox(db, mailbox.id, calls, now, SYNC_STEPS, stop=lambda: True, chunk=100)
    assert state is SyncState.syncing
    assert len(stored(session, mailbox)) == 100  # one committed batch
    assert run(db, mailbox, calls) is SyncState.idle
    assert sorted(stored(session, mailbox)) == sorted(expected)


def test_the_status_line_says_why_a_mailbox_is_not_syncing(
    session: Session, mailbox: Mailbox, client: FlaskClient
) -> None:
    sign_in(client, mailbox.member)
    when = dt.datetime(2026, 11, 23, 9, 30, tzinfo=dt.UTC)
    cases = [
        ({"sync_state": SyncState.queued}, "waiting for its first sync"),
        ({"sync_state": SyncState.throttled, "throttled_until": when}, "09:30:00 UTC"),
        ({"sync_state": SyncState.failed, "last_error": "HttpError 400"}, "failed: HttpError 400"),
        ({"status": MailboxStatus.needs_reconnect}, "Needs reconnecting"),
    ]
    for fields, text in cases:
        for name, value in fields.items():
            setattr(mailbox, name, value)
        session.commit()
        assert text in client.get("/mailboxes/status").get_json()["mailboxes"][0]["html"]
        assert text in client.get("/mailboxes").text


def test_a_failure_without_a_reason_shows_no_none(
    session: Session, mailbox: Mailbox, client: FlaskClient
) -> None:
    sign_in(client, mailbox.member)
    mailbox.sync_state, mailbox.last_error = SyncState.failed, None
    session.commit()
    line = client.get("/mailboxes/status").get_json()["mailboxes"][0]["html"]
    assert "The last sync failed. It is retried at the next poll." in line
    assert "None" not in line


STAGES = ["getProfile", "messages.list", "messages.get", "history.list"]


@pytest.mark.parametrize("status", [429, 500, 503])
@pytest.mark.parametrize("operation", STAGES)
def test_a_storm_at_any_stage_ends_with_every_message_once(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    gmail: Callable[..., Any],
    demo: Control,
    operation: str,
    status: int,
) -> None:
    if operation == "history.list":  # the incremental stage: a full sync first, then news
        assert run(db, mailbox, calls) is SyncState.idle
        demo("deliver", {"to": AVA, "eml": HELLO})
    # Fewer failures in a row than the retry policy's attempts: absorbed within the pass.
    demo("faults", {"kind": "error", "status": status, "count": 2, "operation": operation})
    assert run(db, mailbox, calls) is SyncState.idle
    assert calls.stats.rate_limited + calls.stats.retries > 0
    ids = stored(session, mailbox)
    assert len(ids) == len(set(ids))
    assert set(ids) == gmail_ids(gmail(AVA))


@pytest.mark.parametrize("operation", STAGES)
def test_a_storm_longer_than_the_retries_throttles_then_resumes(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    gmail: Callable[..., Any],
    demo: Control,
    operation: str,
) -> None:
    if operation == "history.list":
        assert run(db, mailbox, calls) is SyncState.idle
        demo("deliver", {"to": AVA, "eml": HELLO})
    demo("faults", {"kind": "error", "status": 429, "count": 200, "operation": operation})
    assert run(db, mailbox, calls) is SyncState.throttled
    session.refresh(mailbox)
    assert mailbox.throttled_until is not None
    assert mailbox.last_error
    demo("faults", method="DELETE")
    assert run(db, mailbox, calls) is SyncState.idle
    ids = stored(session, mailbox)
    assert len(ids) == len(set(ids))
    assert set(ids) == gmail_ids(gmail(AVA))


@pytest.mark.parametrize(
    ("status", "kind", "says"),
    [
        (429, "rate_limited", "Gmail asked us to slow down until "),
        (500, "server", "Gmail is unavailable: it kept answering with server errors"),
        (503, "server", "Gmail is unavailable: it kept answering with server errors"),
    ],
)
def test_the_gmail_page_says_whether_gmail_throttled_or_failed(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    demo: Control,
    client: FlaskClient,
    status: int,
    kind: str,
    says: str,
) -> None:
    """Both wait in state `throttled` until a retry time, retried the same way; only a rate
    limit is Gmail asking us to slow down."""
    demo("faults", {"kind": "error", "status": status, "count": 200, "operation": "getProfile"})
    assert run(db, mailbox, calls) is SyncState.throttled
    session.refresh(mailbox)
    assert (mailbox.throttle_kind, mailbox.throttled_until is not None) == (kind, True)
    sign_in(client, mailbox.member)
    line = client.get("/mailboxes/status").get_json()["mailboxes"][0]["html"]
    assert says in line
    assert mailbox.throttled_until.strftime("%H:%M:%S UTC") in line  # type: ignore[union-attr]
    if kind == "server":
        assert "slow down" not in line
        assert f"gave up after 3 attempts: {status}" in line  # the reason, as stored
        assert "Retrying at" in line
    demo("faults", method="DELETE")
    assert run(db, mailbox, calls) is SyncState.idle
    session.refresh(mailbox)
    assert (mailbox.throttle_kind, mailbox.last_error) == (None, None)


def test_a_message_that_vanishes_between_list_and_get_is_skipped(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    gmail: Callable[..., Any],
    demo: Control,
) -> None:
    listed = sorted(gmail_ids(gmail(AVA)))
    gone = listed[len(listed) // 2]
    # Gmail answers 404 for it, as when it is deleted after we listed it.
    demo("faults", {"kind": "error", "status": 404, "count": 5, "path": gone})
    assert run(db, mailbox, calls) is SyncState.idle
    assert sorted(stored(session, mailbox)) == [i for i in listed if i != gone]


def test_a_step_that_raises_fails_its_batch_and_the_next_poll_stores_it_once(
    db: Database,
    session: Session,
    mailbox: Mailbox,
    calls: GmailCalls,
    gmail: Callable[..., Any],
) -> None:
    seen: list[int] = []  # the messages of the batches that were committed
    broken = [True]

    def flaky(batch: Batch) -> None:
        if batch.messages and broken:
            broken.clear()
            raise RuntimeError("a step broke")
        seen.extend(m.id for m in batch.messages)

    steps = SyncSteps(batch=(flaky,))
    assert sync_mailbox(db, mailbox.id, calls, calls.clock.now, steps) is SyncState.failed
    session.refresh(mailbox)
    assert "a step broke" in (mailbox.last_error or "")
    assert stored(session, mailbox) == []  # the batch went with its step
    assert sync_mailbox(db, mailbox.id, calls, calls.clock.now, steps) is SyncState.idle
    ids = stored(session, mailbox)
    assert len(ids) == len(set(ids))
    assert set(ids) == gmail_ids(gmail(AVA))
    rows = session.scalars(select(Message.id).where(Message.mailbox_id == mailbox.id))
    assert sorted(seen) == sorted(rows)  # each stored message went through the step once


def test_a_finished_sync_is_news_and_an_idle_poll_is_not(
    db: Database,
    mailbox: Mailbox,
    calls: GmailCalls,
    demo: Control,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The demo's console shows the `inboxcrm.news` logger: a person learns their mail is in."""
    with caplog.at_level(logging.INFO, logger="inboxcrm.news"):
        run(db, mailbox, calls)
        run(db, mailbox, calls)  # nothing new: nothing to say
        demo("deliver", {"to": AVA, "eml": HELLO})
        run(db, mailbox, calls)
    said = [r.getMessage() for r in caplog.records if r.name == "inboxcrm.news"]
    assert len(said) == 2
    assert said[0].startswith(f"{AVA}: first sync finished, ")
    assert said[1] == f"{AVA}: sync finished, 1 new message"
