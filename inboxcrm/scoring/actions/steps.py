"""The actions' part of every sync batch, after the signals: a lead asking to stop
receiving email is flagged for its owner, and a new inbound lead's inquiry is queued to
be checked once the workspace's wait has passed (`waits.py`). An inquiry synced more than
FRESH after it arrived (a first sync reading months of mail) is history: nobody is
notified of it. A replayed batch finds the activities it stored before and adds nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Insert, select
from sqlalchemy.dialects import postgresql, sqlite

from inboxcrm.db import chunks
from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.leads.models import Activity, ActivityKind
from inboxcrm.mail.steps import Batch
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from inboxcrm.scoring.actions.models import InboundWait
from inboxcrm.scoring.actions.settings import load
from inboxcrm.tenancy import Scope

FRESH = dt.timedelta(days=1)
UNSUBSCRIBE = "{lead} asked to stop receiving email"


def act_on_signals(batch: Batch) -> None:
    if not batch.messages:
        return
    session, workspace_id = batch.session, batch.mailbox.workspace_id
    found: list[tuple[int, int, ActivityKind, dt.datetime]] = []
    for chunk in chunks(sorted({m.id for m in batch.messages})):
        found.extend(session.execute(
            select(Activity.id, Activity.lead_id, Activity.kind, Activity.occurred_at).where(
                Activity.workspace_id == workspace_id,
                Activity.message_id.in_(chunk),
                Activity.kind.in_((ActivityKind.inquiry, ActivityKind.unsubscribe)),
            )
        ).tuples())  # fmt: skip
    if not found:
        return
    notices = [
        Notice(lead, NoticeKind.unsubscribe, UNSUBSCRIBE, f"unsubscribe:{activity}")
        for activity, lead, kind, _ in found
        if kind is ActivityKind.unsubscribe
    ]
    notify(session, workspace_id, notices, batch.now)
    inquiries = [
        (activity, lead, at)
        for activity, lead, kind, at in found
        if kind is ActivityKind.inquiry and at >= batch.now - FRESH
    ]
    if not inquiries:
        return
    actions = load(Scope(session, workspace_id))
    if not actions.notify_waiting:
        return
    rows: list[dict[str, Any]] = [
        {"workspace_id": workspace_id, "activity_id": activity, "since": at,
         "check_at": at + actions.wait}
        for activity, _, at in inquiries
    ]  # fmt: skip
    session.execute(_insert_new(session.get_bind().dialect.name), rows)
    session.flush()


def _insert_new(dialect: str) -> Insert:
    """Queue an inquiry once: a replayed batch's rows are there already."""
    table = core_table(InboundWait)
    if dialect == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=["activity_id"])
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=["activity_id"])
