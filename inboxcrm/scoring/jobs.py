"""Scoring's clock tick: leads whose score or temperature needs a look with no new mail
(points fading across a line, a warm lead gone quiet) are rescored when `Lead.rescore_at`
says, a step at a time, each step committed."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from itertools import groupby

from sqlalchemy import func, select

from inboxcrm import queue
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead
from inboxcrm.runtime import Runtime
from inboxcrm.scoring.rescore import rescore

TICK_SECONDS = 10.0  # a tick yields after this long; the next one goes on from the queue
RESCORE_LEASE = dt.timedelta(minutes=5)  # a process that dies mid-step frees its leads then
RESCORE_STEP = 500  # leads rescored in one transaction


def rescore_due(runtime: Runtime, now: dt.datetime) -> int:
    return rescore_queued(runtime.database, now)


def rescore_queued(database: Database, now: dt.datetime) -> int:
    """Rescore the leads due, a step at a time; returns how many."""
    done = 0
    deadline = time.monotonic() + TICK_SECONDS
    while time.monotonic() < deadline:
        with database.session() as session:
            ids = queue.claim(session, Lead.rescore_at, now, RESCORE_LEASE, limit=RESCORE_STEP)
        if not ids:
            break
        with database.session() as session:
            rows = session.execute(
                select(Lead.workspace_id, Lead.id)
                .where(Lead.id.in_(ids))
                .order_by(Lead.workspace_id, Lead.id)
            ).tuples()
            for workspace_id, leads in groupby(rows, key=lambda row: row[0]):
                rescore(session, workspace_id, [lead for _, lead in leads], now)
            # rescore set each lead's next look; a lead it left alone is done for now
            queue.release(session, Lead.rescore_at, ids, now + RESCORE_LEASE)
        done += len(ids)
    return done


def rescore_workspace(
    database: Database,
    workspace_id: int,
    now: dt.datetime,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> int:
    """Rescore every lead of a workspace, RESCORE_STEP leads per transaction (after the rules
    changed, or to score leads from before scoring): `progress(done, total)` after each
    step. Returns how many leads."""
    with database.session() as session:
        total = session.scalar(select(func.count(Lead.id)).where(Lead.workspace_id == workspace_id))
    done, after = 0, 0
    while True:
        with database.session() as session:
            ids = list(
                session.scalars(
                    select(Lead.id)
                    .where(Lead.workspace_id == workspace_id, Lead.id > after)
                    .order_by(Lead.id)
                    .limit(RESCORE_STEP)
                )
            )
            if not ids:
                break
            rescore(session, workspace_id, ids, now)
        done, after = done + len(ids), ids[-1]
        progress(done, max(total or 0, done))
    return done
