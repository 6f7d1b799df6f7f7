"""The clock's check on new inbound leads (the guides' rule: contact within the first
hour): an inquiry whose wait has passed (`InboundWait.check_at`) is looked at once; if
nobody on the team has written to the lead since it arrived, its owner is notified
("... has waited 45 minutes without an answer"). Claimed through `queue.claim`, a step at
a time, each step committed; a checked row is deleted, so a tick run twice checks it
once."""

from __future__ import annotations

import datetime as dt
from itertools import groupby

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from inboxcrm import queue
from inboxcrm.db import Database, chunks
from inboxcrm.leads.models import Activity, ActivityKind
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from inboxcrm.runtime import Runtime
from inboxcrm.scoring.actions.models import InboundWait
from inboxcrm.scoring.actions.settings import load
from inboxcrm.tenancy import Scope

WAIT_LEASE = dt.timedelta(minutes=5)
WAIT_STEP = 500


def check_waits_due(runtime: Runtime, now: dt.datetime) -> int:
    return check_waits(runtime.database, now)


def check_waits(database: Database, now: dt.datetime) -> int:
    """Check the inquiries due; returns how many were checked."""

    def check(session: Session, ids: list[int]) -> None:
        waits = session.execute(
            select(InboundWait.workspace_id, Activity.lead_id, InboundWait.activity_id,
                   InboundWait.since)
            .join(Activity, Activity.id == InboundWait.activity_id)
            .where(InboundWait.id.in_(ids))
            .order_by(InboundWait.workspace_id, InboundWait.id)
        ).tuples().all()  # fmt: skip
        for workspace_id, rows in groupby(waits, key=lambda row: row[0]):
            _check(Scope(session, workspace_id), [r[1:] for r in rows], now)
        session.execute(delete(InboundWait).where(InboundWait.id.in_(ids)))

    return queue.drain(database, InboundWait.check_at, now, check, lease=WAIT_LEASE, step=WAIT_STEP)


def _check(scope: Scope, waits: list[tuple[int, int, dt.datetime]], now: dt.datetime) -> None:
    actions = load(scope)
    if not actions.notify_waiting:
        return
    since_of: dict[int, dt.datetime] = {}
    for lead, _, since in waits:
        since_of[lead] = min(since, since_of.get(lead, since))
    answered: set[int] = set()  # leads the team wrote to after their inquiry
    for chunk in chunks(sorted(since_of)):
        rows = scope.session.execute(
            select(Activity.lead_id, func.max(Activity.occurred_at))
            .where(
                Activity.workspace_id == scope.workspace_id,
                Activity.lead_id.in_(chunk),
                Activity.kind == ActivityKind.message_out,
                Activity.occurred_at > min(since_of[lead] for lead in chunk),
            )
            .group_by(Activity.lead_id)
        )
        latest = dict(rows.tuples().all())
        answered.update(lead for lead, _, since in waits if lead in latest and latest[lead] > since)
    notices = [
        Notice(lead, NoticeKind.waiting,
               f"{{lead}}, a new inbound lead, has waited {_span(now - since)} without an answer",
               f"waiting:{activity}")
        for lead, activity, since in waits
        if lead not in answered
    ]  # fmt: skip
    notify(scope.session, scope.workspace_id, notices, now)


def _span(wait: dt.timedelta) -> str:
    minutes = int(wait.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} minutes"
    if minutes < 48 * 60:
        return f"{minutes // 60} hours"
    return f"{minutes // 1440} days"
