"""The leads' clock ticks: match new leads to the mail stored before them (the link-mail
queue), and apply changed capture rules to the mail already synced."""

from __future__ import annotations

import datetime as dt
import time
from itertools import groupby

from sqlalchemy import select

from inboxcrm import queue
from inboxcrm.accounts.models import Workspace
from inboxcrm.db import Database
from inboxcrm.leads.capture.backfill import link_existing_mail, recapture_step
from inboxcrm.leads.models import Lead
from inboxcrm.runtime import Runtime

TICK_SECONDS = 10.0  # a tick yields after this long; the next one goes on from its queue
LINK_LEASE = dt.timedelta(minutes=5)  # a process that dies mid-link frees its leads then
LINK_STEP = 200  # leads matched to stored mail in one transaction


def link_mail_due(runtime: Runtime, now: dt.datetime) -> int:
    return link_queued_mail(runtime.database, now)


def link_queued_mail(database: Database, now: dt.datetime) -> int:
    """Match queued leads to stored mail, a step at a time; returns how many leads."""
    done = 0
    deadline = time.monotonic() + TICK_SECONDS
    while time.monotonic() < deadline:
        with database.session() as session:
            ids = queue.claim(session, Lead.link_mail_at, now, LINK_LEASE, limit=LINK_STEP)
        if not ids:
            break
        with database.session() as session:
            rows = session.execute(
                select(Lead.workspace_id, Lead.id)
                .where(Lead.id.in_(ids))
                .order_by(Lead.workspace_id, Lead.id)
            ).tuples()
            for workspace_id, leads in groupby(rows, key=lambda row: row[0]):
                link_existing_mail(session, workspace_id, [lead for _, lead in leads], now)
            queue.release(session, Lead.link_mail_at, ids, now + LINK_LEASE)
        done += len(ids)
    return done


def recapture_due(runtime: Runtime, now: dt.datetime) -> None:
    database = runtime.database
    with database.session() as session:
        pending = list(
            session.scalars(select(Workspace.id).where(Workspace.recapture_from.is_not(None)))
        )
    deadline = time.monotonic() + TICK_SECONDS
    for workspace_id in pending:
        while time.monotonic() < deadline:
            with database.session() as session:  # each step commits on its own
                if recapture_step(session, workspace_id, now) is None:
                    break
