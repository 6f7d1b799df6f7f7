"""Draining a queue of leads (a `Lead.*_at` column): claimed a step at a time, each step
worked per workspace and committed, for as long as a tick may take (or until the queue
is empty)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm import queue
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead

TICK_SECONDS = 10.0  # a tick yields after this long; the next one goes on from the queue

# The work for one workspace's claimed leads, in the step's transaction.
Work = Callable[[Session, int, list[int], dt.datetime], object]


def drain_leads(
    database: Database,
    column: queue.Queue,
    now: dt.datetime,
    work: Work,
    *,
    lease: dt.timedelta,
    step: int,
    seconds: float | None = TICK_SECONDS,
) -> int:
    """Claim due leads of `column` `step` at a time, `work` them, release them (unless
    queued again meanwhile, as the work itself may do); returns how many leads. Stops
    after `seconds`, or (None) once nothing due at `now` is left: every claim moves its
    leads past `now`, so that comes, and a tick that takes longer holds back only its own
    next run (the scheduler runs one at a time)."""
    done = 0
    deadline = None if seconds is None else time.monotonic() + seconds
    while deadline is None or time.monotonic() < deadline:
        with database.session() as session:
            ids = queue.claim(session, column, now, lease, limit=step)
        if not ids:
            break
        with database.session() as session:
            rows = session.execute(
                select(Lead.workspace_id, Lead.id)
                .where(Lead.id.in_(ids))
                .order_by(Lead.workspace_id, Lead.id)
            ).tuples()
            for workspace_id, leads in groupby(rows, key=lambda row: row[0]):
                work(session, workspace_id, [lead for _, lead in leads], now)
            queue.release(session, column, ids, now + lease)
        done += len(ids)
    return done
