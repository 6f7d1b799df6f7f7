"""Draining a queue of leads (a `Lead.*_at` column): claimed a step at a time, each step
worked per workspace and committed, for as long as a tick may take (or until the queue
is empty)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from itertools import groupby

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm import queue
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead

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
    seconds: float | None = queue.TICK_SECONDS,
) -> int:
    """`queue.drain` for leads: each step's leads worked per workspace."""

    def by_workspace(session: Session, ids: list[int]) -> None:
        rows = session.execute(
            select(Lead.workspace_id, Lead.id)
            .where(Lead.id.in_(ids))
            .order_by(Lead.workspace_id, Lead.id)
        ).tuples()
        for workspace_id, leads in groupby(rows, key=lambda row: row[0]):
            work(session, workspace_id, [lead for _, lead in leads], now)

    return queue.drain(database, column, now, by_workspace, lease=lease, step=step, seconds=seconds)
