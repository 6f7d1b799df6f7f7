"""The clock's sync tick: claim the mailboxes that are due, sync each, plan the next poll."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import Future

from sqlalchemy import update

from inboxcrm import queue
from inboxcrm.accounts.connection import connect
from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState
from inboxcrm.db import Database, utcnow
from inboxcrm.mail.steps import SyncSteps
from inboxcrm.mail.sync import Progress, sync_mailbox
from inboxcrm.runtime import Runtime

log = logging.getLogger(__name__)
POLL_EVERY = dt.timedelta(seconds=60)
# The clock claims due mailboxes this often. A mailbox is due again POLL_EVERY - SYNC_TICK
# after its pass began, so the tick that claims it comes within POLL_EVERY: news in Gmail
# (a stage label, a reply) shows within one poll interval and the pass that reads it.
SYNC_TICK = dt.timedelta(seconds=15)
# A claim holds a mailbox this long and each committed batch renews it, so a process that
# dies mid-sync frees its mailboxes within minutes. Longer than any wait between batches:
# backoffs total about a minute, and a longer "Retry after" ends the pass.
LEASE = dt.timedelta(minutes=5)
# A pass stops after this long and goes on at the next tick, so mailboxes take turns.
PASS_TIME = dt.timedelta(minutes=5)


def claim_due(database: Database, now: dt.datetime, limit: int = 10) -> list[int]:
    """Mailboxes due a poll, each leased to this process: of several clocks ticking at
    once, exactly one gets each mailbox."""
    with database.session() as session:
        return queue.claim(
            session,
            Mailbox.next_poll_at,
            now,
            LEASE,
            Mailbox.status == MailboxStatus.connected,
            ready=queue.due(Mailbox.next_poll_at, now, null_is_due=True),
            order_by=(Mailbox.next_poll_at.nulls_first(), Mailbox.id),
            limit=limit,
        )


def claim(database: Database, mailbox_id: int, now: dt.datetime) -> bool:
    """Claim one mailbox now, due or not (the `sync` command), unless a clock's sync of it
    is under way."""
    busy = (Mailbox.sync_state == SyncState.syncing) & (Mailbox.next_poll_at > now)
    with database.session() as session:
        taken = queue.claim(
            session,
            Mailbox.next_poll_at,
            now,
            LEASE,
            Mailbox.id == mailbox_id,
            ready=~busy,
            limit=1,
        )
    return bool(taken)


def sync_claimed(
    runtime: Runtime,
    mailbox_id: int,
    steps: SyncSteps,
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
    state = sync_mailbox(
        database, mailbox_id, gmail.calls, utcnow, steps, progress=renew, stop=stop
    )
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


def _pass(runtime: Runtime, mailbox_id: int, steps: SyncSteps) -> SyncState:
    deadline = utcnow() + PASS_TIME
    return sync_claimed(
        runtime, mailbox_id, steps, stop=lambda: runtime.stopping.is_set() or utcnow() >= deadline
    )


def sync_due(runtime: Runtime, now: dt.datetime, steps: SyncSteps) -> list[Future[SyncState]]:
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
        future = runtime.pool.submit(_pass, runtime, mailbox_id, steps)
        runtime.running[mailbox_id] = future
        started.append(future)
    return started
