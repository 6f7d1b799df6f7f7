"""Scoring's clock tick: leads whose score or temperature needs a look with no new mail
(points fading across a line, a warm lead gone quiet) are rescored when `Lead.rescore_at`
says, a step at a time, each step committed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from sqlalchemy import func, select

from inboxcrm.db import Database, driver_rows
from inboxcrm.leads.models import Lead
from inboxcrm.leads.queues import drain_leads
from inboxcrm.runtime import Runtime
from inboxcrm.scoring.actions.act import rescore_and_act

RESCORE_LEASE = dt.timedelta(minutes=5)  # a process that dies mid-step frees its leads then
RESCORE_STEP = 500  # leads rescored in one transaction
# A whole workspace's rescore, in bigger steps: each commit waits on the disk, and most of
# a step's work is a few set-based statements whatever its size. Not bigger: a step holds
# SQLite's write lock while it runs (about a second), and a sync batch waits for it.
WORKSPACE_STEP = 10000


def rescore_due(runtime: Runtime, now: dt.datetime) -> int:
    return rescore_queued(runtime.database, now)


def rescore_queued(database: Database, now: dt.datetime) -> int:
    """Rescore the leads due, a step at a time, until none is left; returns how many.
    Rescoring sets each lead's next look; a lead it left alone is done for now. A changed
    rule queues a whole workspace: one tick works it off, where TICK_SECONDS of work a
    minute would take six times as long (benchmarks/rescore_workspace.py)."""
    return drain_leads(database, Lead.rescore_at, now, rescore_and_act, lease=RESCORE_LEASE,
                       step=RESCORE_STEP, seconds=None)  # fmt: skip


def rescore_workspace(
    database: Database,
    workspace_id: int,
    now: dt.datetime,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Rescore every lead of a workspace, WORKSPACE_STEP leads per transaction (after the rules
    changed, or to score leads from before scoring): `progress(done, total)` after each
    step. Returns how many leads."""
    with database.session() as session:
        total = session.scalar(select(func.count(Lead.id)).where(Lead.workspace_id == workspace_id))
    done, after = 0, 0
    while True:
        with database.session() as session:
            ids = [  # as the driver gives them: a hundred thousand ints, no conversion
                lead_id
                for (lead_id,) in driver_rows(
                    session,
                    select(Lead.id)
                    .where(Lead.workspace_id == workspace_id, Lead.id > after)
                    .order_by(Lead.id)
                    .limit(WORKSPACE_STEP),
                )
            ]
            if not ids:
                break
            rescore_and_act(session, workspace_id, ids, now)
        done, after = done + len(ids), ids[-1]
        progress(done, max(total or 0, done))
    return done
