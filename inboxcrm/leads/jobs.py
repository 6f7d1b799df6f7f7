"""The leads' clock ticks: match new leads to the mail stored before them (the link-mail
queue), and apply changed capture rules to the mail already synced."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select

from inboxcrm.accounts.models import Workspace
from inboxcrm.db import Database
from inboxcrm.leads.capture.backfill import link_existing_mail, recapture_step
from inboxcrm.leads.models import Lead
from inboxcrm.leads.queues import drain_leads
from inboxcrm.queue import TICK_SECONDS
from inboxcrm.runtime import Runtime

LINK_LEASE = dt.timedelta(minutes=5)  # a process that dies mid-link frees its leads then
LINK_STEP = 200  # leads matched to stored mail in one transaction


def link_mail_due(runtime: Runtime, now: dt.datetime) -> int:
    return link_queued_mail(runtime.database, now)


def link_queued_mail(database: Database, now: dt.datetime) -> int:
    """Match queued leads to stored mail, a step at a time; returns how many leads."""
    return drain_leads(
        database, Lead.link_mail_at, now, link_existing_mail, lease=LINK_LEASE, step=LINK_STEP
    )


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
