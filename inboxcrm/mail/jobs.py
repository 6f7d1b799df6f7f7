"""The clock's sync tick: claim the mailboxes that are due, sync each, plan the next poll."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, or_, select, update

from inboxcrm.accounts.crypto import TokenBox
from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState
from inboxcrm.accounts.service import google_client
from inboxcrm.db import Database, utcnow
from inboxcrm.gmail import build_gmail
from inboxcrm.gmail.calls import GmailCalls, RetryPolicy
from inboxcrm.gmail.pacing import SystemClock, TokenBucket
from inboxcrm.gmail.signin import credentials_from_json
from inboxcrm.mail.sync import Progress, sync_mailbox
from inboxcrm.scheduler import Runtime

log = logging.getLogger(__name__)
POLL_EVERY = dt.timedelta(seconds=60)
# The clock claims due mailboxes this often. A mailbox is due again POLL_EVERY - SYNC_TICK
# after its pass began, so the tick that claims it comes within POLL_EVERY: news in Gmail
# (a stage label, a reply) shows within one poll interval and the pass that reads it.
SYNC_TICK = dt.timedelta(seconds=15)
# A claim holds a mailbox this long and each committed batch renews it, so a process that
# dies mid-sync frees its mailboxes within minutes. Longer than any wait between batches:
# backoffs total about a minute, and a longer "Retry after" ends the pass (RETRY).
LEASE = dt.timedelta(minutes=5)
RETRY = RetryPolicy(max_wait=60.0)
# A pass stops after this long and goes on at the next tick, so mailboxes take turns.
PASS_TIME = dt.timedelta(minutes=5)


def _due(now: dt.datetime) -> Any:
    return or_(Mailbox.next_poll_at.is_(None), Mailbox.next_poll_at <= now)


def claim_due(database: Database, now: dt.datetime, limit: int = 10) -> list[int]:
    """Mailboxes due a poll, each claimed by a conditional update: of several clocks
    ticking at once, exactly one gets each mailbox."""
    with database.session() as session:
        candidates = session.scalars(
            select(Mailbox.id)
            .where(Mailbox.status == MailboxStatus.connected, _due(now))
            .order_by(Mailbox.next_poll_at.nulls_first(), Mailbox.id)
            .limit(limit)
        ).all()
    return [mailbox_id for mailbox_id in candidates if _take(database, mailbox_id, _due(now), now)]


def _take(database: Database, mailbox_id: int, condition: Any, now: dt.datetime) -> bool:
    """Lease the mailbox if `condition` still holds: a conditional update, so of several
    processes trying at once, exactly one gets it."""
    with database.session() as session:
        result = cast(
            CursorResult[Any],
            session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id, condition)
                .values(next_poll_at=now + LEASE)
            ),
        )
        return result.rowcount == 1


@dataclass
class Connection:
    """A mailbox's Gmail for one pass, with the access token the pass started with."""

    mailbox_id: int
    calls: GmailCalls
    credentials: Any
    token: str | None

    def keep_refreshed(self, runtime: Runtime) -> None:
        """google-auth refreshed the access token during the pass: store it (sealed), so
        the next pass uses it until it expires instead of refreshing again."""
        if self.credentials.token and self.credentials.token != self.token:
            with runtime.database.session() as session:
                mailbox = session.get_one(Mailbox, self.mailbox_id)
                box = TokenBox(runtime.settings.token_key)
                mailbox.token_ciphertext = box.seal(self.credentials.to_json())


def connect(runtime: Runtime, mailbox: Mailbox) -> Connection:
    """The mailbox's Gmail, paced by its own quota bucket, which lives across ticks."""
    client = google_client(runtime.settings)
    if client is None or mailbox.token_ciphertext is None:
        raise LookupError(f"mailbox {mailbox.id} has no Google client or tokens")
    tokens = TokenBox(runtime.settings.token_key).open(mailbox.token_ciphertext)
    credentials = credentials_from_json(client, tokens)
    bucket = runtime.buckets.setdefault(mailbox.id, TokenBucket(SystemClock()))
    calls = GmailCalls(build_gmail(credentials, client.api_root), bucket, policy=RETRY)
    return Connection(mailbox.id, calls, credentials, credentials.token)


def gmail_calls(runtime: Runtime, mailbox: Mailbox) -> GmailCalls:
    return connect(runtime, mailbox).calls


def claim(database: Database, mailbox_id: int, now: dt.datetime) -> bool:
    """Claim one mailbox now, due or not (the `sync` command), unless a clock's sync of it
    is under way."""
    busy = (Mailbox.sync_state == SyncState.syncing) & (Mailbox.next_poll_at > now)
    return _take(database, mailbox_id, ~busy, now)


def sync_claimed(
    runtime: Runtime,
    mailbox_id: int,
    stop: Callable[[], bool],
    progress: Progress | None = None,
) -> SyncState:
    """Sync a mailbox this process has claimed, then plan its next poll."""
    database = runtime.database
    with database.session() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        try:
            gmail = connect(runtime, mailbox)
        except Exception as exc:  # unreadable tokens and the like: show it, retry later
            log.warning("mailbox %s cannot sync: %s", mailbox_id, exc)
            mailbox.sync_state, mailbox.last_error = SyncState.failed, str(exc)[:1000]
            mailbox.next_poll_at = utcnow() + POLL_EVERY
            return SyncState.failed

    def renew(stored: int, estimate: int | None) -> None:
        with database.session() as session:
            session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id)
                .values(next_poll_at=utcnow() + LEASE)
            )
        if progress is not None:
            progress(stored, estimate)

    started = utcnow()
    state = sync_mailbox(database, mailbox_id, gmail.calls, utcnow, progress=renew, stop=stop)
    gmail.keep_refreshed(runtime)
    with database.session() as session:
        mailbox = session.get_one(Mailbox, mailbox_id)
        if state is SyncState.syncing:
            mailbox.next_poll_at = utcnow()  # more to list: the next tick goes on
        elif state is not SyncState.throttled or mailbox.next_poll_at is None:
            # Mailboxes need no stagger: each polls on from its own pass, and a tick claims
            # no more than there are free workers.
            mailbox.next_poll_at = started + POLL_EVERY - SYNC_TICK
    return state


def _pass(runtime: Runtime, mailbox_id: int) -> SyncState:
    deadline = utcnow() + PASS_TIME
    return sync_claimed(
        runtime, mailbox_id, stop=lambda: runtime.stopping.is_set() or utcnow() >= deadline
    )


def sync_due(runtime: Runtime, now: dt.datetime) -> list[Future[SyncState]]:
    """Claim as many due mailboxes as there are free workers and start syncing them; the
    tick returns at once (the futures are for tests and the `sync` command)."""
    for mailbox_id, future in list(runtime.running.items()):
        if future.done():
            del runtime.running[mailbox_id]
    free = runtime.workers - len(runtime.running)
    if free <= 0:
        return []
    started = []
    for mailbox_id in claim_due(runtime.database, now, limit=free):
        future = runtime.pool.submit(_pass, runtime, mailbox_id)
        runtime.running[mailbox_id] = future
        started.append(future)
    return started
