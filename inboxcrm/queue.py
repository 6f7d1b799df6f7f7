"""One claim for every due-queue: rows with a due time (`*_at`), taken a lease at a time.

A queue is a nullable datetime column: a row is due when it is at or before now (or null,
for queues where null means "never done"). Claiming pushes the column a lease ahead and
returns the ids, in one statement: of several processes claiming at once, exactly one
gets each row (PostgreSQL skips rows another claim has locked, `FOR UPDATE SKIP LOCKED`;
SQLite runs one writer at a time, so the conditional update decides). A process
that dies holding a claim frees its rows when the lease runs out; a worker that finishes
clears its rows with `release`, unless someone queued them again meanwhile.
"""

from __future__ import annotations

import datetime as dt
import itertools
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from inboxcrm.db import Database

Queue = InstrumentedAttribute[dt.datetime | None]
TICK_SECONDS = 10.0  # a draining tick yields after this long; the next goes on from the queue


def due(queue: Queue, now: dt.datetime, *, null_is_due: bool = False) -> ColumnElement[bool]:
    at_or_before = queue <= now
    return or_(queue.is_(None), at_or_before) if null_is_due else at_or_before


def claim(
    session: Session,
    queue: Queue,
    now: dt.datetime,
    lease: dt.timedelta,
    *where: Any,
    limit: int,
    ready: ColumnElement[bool] | None = None,
    join: tuple[Any, Any] | None = None,
    order_by: tuple[Any, ...] = (),
) -> list[int]:
    """Claim up to `limit` rows of `queue` that are `ready` (due, by default) and match
    `where` (columns of a `join`ed table too), in `order_by` (oldest first by default):
    their `queue` moves to now + `lease`. Returns the ids claimed, in that order. The
    caller commits (on PostgreSQL the rows stay locked until it does)."""
    model = queue.class_
    ready = due(queue, now) if ready is None else ready
    pick = select(model.id).where(ready, *where)
    if join is not None:
        pick = pick.join(*join)
    pick = pick.order_by(*(order_by or (queue, model.id))).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=model)
    candidates = list(session.scalars(pick))
    taken = _take(session, queue, candidates, ready, now + lease)
    return [row_id for row_id in candidates if row_id in taken]


def _take(
    session: Session,
    queue: Queue,
    ids: list[int],
    ready: Any,
    until: dt.datetime,
    also: Mapping[str, Any] | None = None,
    load: bool = False,
) -> dict[int, Any]:
    """Lease the rows that are still ready (and set `also` on them, in the same UPDATE):
    on SQLite the SELECT before held no lock, and this UPDATE decides. Returns the ids
    leased, each with its row as the UPDATE left it when asked to `load` (else None)."""
    if not ids:
        return {}
    model = queue.class_
    statement = (
        update(model).where(model.id.in_(ids), ready).values({**(also or {}), queue.key: until})
    )
    options = {"synchronize_session": False}
    if load:
        rows = session.scalars(statement.returning(model), execution_options=options)
        return {row.id: row for row in rows}
    return dict.fromkeys(session.scalars(statement.returning(model.id), execution_options=options))


@dataclass(frozen=True)
class Claimed:
    ids: list[int]
    # When the first row left unclaimed is due: at or before now, more work is waiting;
    # later, that is when; None, the queue holds nothing else.
    next_due: dt.datetime | None
    rows: list[Any] = field(default_factory=list)  # the rows claimed, when asked to `load`
    # When each claimed row was due (None: null, due since ever). A row claimed `ahead` of
    # its time is due after now: the worker holds it and starts it then.
    due: list[dt.datetime | None] = field(default_factory=list)
    # Each claimed row's `also` columns as they were, for a `release` that puts them back.
    was: list[dict[str, Any]] = field(default_factory=list)


def claim_next(
    session: Session,
    queue: Queue,
    now: dt.datetime,
    lease: dt.timedelta,
    *where: Any,
    limit: int,
    ahead: dt.timedelta = dt.timedelta(0),
    null_is_due: bool = False,
    also: Mapping[str, Any] | None = None,
    load: bool = False,
) -> Claimed:
    """`claim` for a worker that waits when nothing is due: the same claim, oldest first,
    of the rows due by `now + ahead`, and in the same SELECT a look at the row after, so
    it knows how long to wait without asking again. With `load`, the claim's UPDATE also
    reads the rows it claimed, so the worker need not read them again.

    Claiming `ahead` is how several processes wait without a herd: a worker that waits
    holds the row it waits for, so the others' claims pass over it to the next one (on
    PostgreSQL the SELECT skips it while locked, and after that it is leased)."""
    model = queue.class_
    order = queue.nulls_first() if null_is_due else queue
    kept = [getattr(model, key) for key in also or {}]
    pick = select(model.id, queue, *kept).where(*where).order_by(order, model.id).limit(limit + 1)
    if not null_is_due:
        pick = pick.where(queue.is_not(None))
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(skip_locked=True, of=model)
    rows = session.execute(pick).all()
    by = now + ahead
    ready = due(queue, by, null_is_due=null_is_due)
    candidates = {
        row[0]: row
        for row in rows
        if (row[1] is None and null_is_due) or (row[1] is not None and row[1] <= by)
    }
    candidates = dict(itertools.islice(candidates.items(), limit))
    left = [row for row in rows if row[0] not in candidates]
    next_due = (now if left[0][1] is None else left[0][1]) if left else None
    taken = _take(session, queue, list(candidates), ready, now + lease, also, load)
    if len(taken) < len(candidates):  # lost a race for some: more may be due
        next_due = now
    ids = [i for i in candidates if i in taken]
    return Claimed(
        ids,
        next_due,
        rows=[taken[i] for i in ids] if load else [],
        due=[candidates[i][1] for i in ids],
        was=[dict(zip(also or {}, candidates[i][2:], strict=True)) for i in ids],
    )


def release(
    session: Session,
    queue: Queue,
    ids: list[int],
    leased_until: dt.datetime,
    then: dt.datetime | None = None,
    also: Mapping[str, Any] | None = None,
) -> int:
    """Done with rows claimed until `leased_until`: set their `queue` to `then` (None:
    nothing more to do; a time: try again then) and `also` on them, except rows queued
    again meanwhile, whose new due time stands. Returns how many were released."""
    model = queue.class_
    if not ids:
        return 0
    result = cast(
        CursorResult[Any],
        session.execute(
            update(model)
            .where(model.id.in_(ids), queue == leased_until)
            .values({**(also or {}), queue.key: then}),
            execution_options={"synchronize_session": False},
        ),
    )
    return result.rowcount


def drain(
    database: Database,
    queue: Queue,
    now: dt.datetime,
    work: Callable[[Session, list[int]], object],
    *,
    lease: dt.timedelta,
    step: int,
    seconds: float | None = TICK_SECONDS,
) -> int:
    """Claim due rows of `queue` `step` at a time, `work` them and release them (unless
    queued again meanwhile, as the work itself may do), each step in its own transaction;
    returns how many rows. Stops after `seconds`, or (None) once nothing due at `now` is
    left: every claim moves its rows past `now`, so that comes, and a tick that takes
    longer holds back only its own next run (the scheduler runs one at a time)."""
    done = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    while deadline is None or time.monotonic() < deadline:
        with database.session() as session:
            ids = claim(session, queue, now, lease, limit=step)
        if not ids:
            break
        with database.session() as session:
            work(session, ids)
            release(session, queue, ids, now + lease)
        done += len(ids)
    return done
