"""The clock's mailbox polls: workers that claim due mailboxes one after another, sync
each, and plan its next poll.

Each mailbox has a fixed place in the poll interval (its phase, from its id), so a team's
polls are spread evenly over the minute and each mailbox is polled once a minute, not in
bursts. A worker goes on claiming while mailboxes are due; when none is, one worker waits
for the next that is due within a tick and the others stop; the clock's tick starts
workers again as the pool frees up. Several clock processes share the work through the
claim, and none polls a mailbox another is polling.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from sqlalchemy import update

from inboxcrm import queue
from inboxcrm.accounts.connection import connect
from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState
from inboxcrm.db import Database, utcnow
from inboxcrm.mail.steps import SyncSteps
from inboxcrm.mail.sync import Progress, sync_mailbox
from inboxcrm.runtime import Runtime

log = logging.getLogger(__name__)
POLL_EVERY = dt.timedelta(seconds=60)  # the default; INBOXCRM_POLL_SECONDS sets it
# The clock makes sure workers run this often; a worker waits for a mailbox due within it.
# So news in Gmail (a stage label, a reply) shows within one poll interval.
SYNC_TICK = dt.timedelta(seconds=15)
_PHASE = 0.6180339887498949  # the golden ratio's part: ids spread evenly over the interval
# A claim holds a mailbox this long and each committed batch renews it, so a process that
# dies mid-sync frees its mailboxes within minutes. Longer than any wait between batches:
# backoffs total about a minute, and a longer "Retry after" ends the pass.
LEASE = dt.timedelta(minutes=5)
# A pass stops after this long and goes on at the next tick, so mailboxes take turns.
PASS_TIME = dt.timedelta(minutes=5)


# A claimed mailbox shows as being synced, in the claim's own UPDATE: the `sync` command
# leaves it alone, and the pass's closing write says how it ended.
_SYNCING = {"sync_state": SyncState.syncing}


def _claim(
    database: Database, now: dt.datetime, limit: int, ahead: dt.timedelta = dt.timedelta(0)
) -> queue.Claimed:
    """Due mailboxes (or due by `now + ahead`), claimed with their rows: the claim's UPDATE
    reads them for the pass (`rows`), which then reads nothing more before it asks Gmail."""
    with database.session() as session:
        return queue.claim_next(
            session,
            Mailbox.next_poll_at,
            now,
            LEASE,
            Mailbox.status == MailboxStatus.connected,
            limit=limit,
            ahead=ahead,
            null_is_due=True,  # a mailbox just connected
            also=_SYNCING,
            load=True,
        )


def claim_due(database: Database, now: dt.datetime, limit: int = 10) -> list[int]:
    """Mailboxes due a poll, most overdue first, each leased to this process: of several
    clocks claiming at once, exactly one gets each mailbox."""
    return _claim(database, now, limit).ids


def in_phase(mailbox_id: int, after: dt.datetime, every: dt.timedelta = POLL_EVERY) -> dt.datetime:
    """The first time after `after` at the mailbox's place in the poll interval."""
    period = every.total_seconds()
    phase = (mailbox_id * _PHASE) % 1.0 * period
    base = after.timestamp()
    cycle = (base - phase) // period + 1
    return dt.datetime.fromtimestamp(cycle * period + phase, dt.UTC)


def next_poll(
    mailbox_id: int, state: SyncState, started: dt.datetime, every: dt.timedelta = POLL_EVERY
) -> dt.datetime:
    """More to list: go on at once. Otherwise the mailbox's next place in the interval,
    at least half an interval on (so a pass run late still polls about once a minute)."""
    if state is SyncState.syncing:
        return utcnow()
    return in_phase(mailbox_id, started + every / 2, every)


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
    mailbox: int | Mailbox,
    steps: SyncSteps,
    stop: Callable[[], bool],
    progress: Progress | None = None,
) -> SyncState:
    """Sync a mailbox this process has claimed, then plan its next poll. `mailbox` is
    its id, or its row as the claim read it; the pass writes it once (more when there is
    mail to store)."""
    database = runtime.database
    if isinstance(mailbox, int):
        with database.session() as session:
            mailbox = session.get_one(Mailbox, mailbox)
    mailbox_id = mailbox.id
    try:
        gmail = connect(runtime, mailbox)
    except Exception as exc:  # unreadable tokens and the like: show it, retry later
        log.warning("mailbox %s cannot sync: %s", mailbox_id, exc)
        failed = {"sync_state": SyncState.failed, "last_error": str(exc)[:1000]}
        with database.session() as session:
            session.execute(
                update(Mailbox)
                .where(Mailbox.id == mailbox_id)
                .values(**failed, next_poll_at=utcnow() + POLL_EVERY)
            )
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

    every = dt.timedelta(seconds=runtime.settings.poll_seconds)

    def plan(state: SyncState, started: dt.datetime) -> dt.datetime:
        return next_poll(mailbox_id, state, started, every)

    state = sync_mailbox(
        database, mailbox, gmail.calls, utcnow, steps, progress=renew, stop=stop, next_poll=plan
    )
    gmail.keep_refreshed(runtime)
    return state


def _pass(runtime: Runtime, mailbox: Mailbox, steps: SyncSteps) -> SyncState:
    deadline = utcnow() + PASS_TIME
    return sync_claimed(
        runtime, mailbox, steps, stop=lambda: runtime.stopping.is_set() or utcnow() >= deadline
    )


def _work(runtime: Runtime, steps: SyncSteps, mailbox: Mailbox | None) -> SyncState | None:
    """A worker: sync the claimed mailbox, then claim the next due one, and so on. With
    none due, one worker claims the next due within a tick and waits for its time (so the
    workers of other clocks pass over it, no herd); the others stop."""
    state = None
    while not runtime.stopping.is_set():
        if mailbox is None:
            waiter = runtime.waiting.acquire(blocking=False)  # one worker a process waits
            try:
                mailbox = _next(runtime, steps, SYNC_TICK if waiter else dt.timedelta(0))
            finally:
                if waiter:
                    runtime.waiting.release()
            if mailbox is None:
                return state
        state = _pass(runtime, mailbox, steps)
        mailbox = None
    return state


def _next(runtime: Runtime, steps: SyncSteps, ahead: dt.timedelta) -> Mailbox | None:
    """The next mailbox due by `ahead` from now, claimed, once it is due; None when there
    is none, or the clock stops while waiting (the mailbox then goes back as it was)."""
    now = utcnow()
    claimed = _claim(runtime.database, now, limit=1, ahead=ahead)
    if not claimed.rows:
        return None
    mailbox: Mailbox = claimed.rows[0]
    due = claimed.due[0]
    if claimed.next_due is not None and claimed.next_due <= now:
        _start(runtime, steps, None)  # more is due: bring in a free worker
    if due is not None and due > now and runtime.stopping.wait((due - now).total_seconds()):
        _unclaim(runtime.database, mailbox.id, now, due, claimed.was[0])
        return None
    return mailbox


def _unclaim(
    database: Database,
    mailbox_id: int,
    claimed_at: dt.datetime,
    due: dt.datetime | None,
    was: dict[str, Any],
) -> None:
    """A claimed mailbox this process will not poll after all: due as it was, its state
    as it was, for the next clock."""
    with database.session() as session:
        queue.release(session, Mailbox.next_poll_at, [mailbox_id], claimed_at + LEASE, due, was)


def _start(
    runtime: Runtime, steps: SyncSteps, mailbox: Mailbox | None
) -> Future[SyncState | None] | None:
    with runtime.lock:
        runtime.running[:] = [f for f in runtime.running if not f.done()]
        if len(runtime.running) >= runtime.workers or runtime.stopping.is_set():
            return None
        future = runtime.pool.submit(_work, runtime, steps, mailbox)
        runtime.running.append(future)
        return future


def sync_due(
    runtime: Runtime, now: dt.datetime, steps: SyncSteps
) -> list[Future[SyncState | None]]:
    """The clock's tick: workers for the mailboxes due now, as many as the pool has room
    for, or one to wait for the next due within a tick. It returns at once; the futures
    (for tests and the `sync` command) end when their workers find nothing more due."""
    with runtime.lock:
        free = runtime.workers - sum(1 for f in runtime.running if not f.done())
    if free <= 0:
        return []
    claimed = _claim(runtime.database, now, limit=free)
    started = []
    for mailbox, due, was in zip(claimed.rows, claimed.due, claimed.was, strict=True):
        future = _start(runtime, steps, mailbox)
        if future is None:  # the workers took the room meanwhile: due again at once
            _unclaim(runtime.database, mailbox.id, now, due, was)
            continue
        started.append(future)
    soon = claimed.next_due is not None and claimed.next_due - now <= SYNC_TICK
    if not started and soon and (waiter := _start(runtime, steps, None)) is not None:
        started.append(waiter)
    return started
