"""What happened, for the tools outside: an event row written in the same transaction as
the change it reports (a lead created, moved, merged, removed; a reply received; a score
crossing a line, a temperature change; an email sent, a bounce, an unsubscribe; a
sequence exited), so a change committed is an event kept, and a change rolled back
leaves none.

A base module: every domain may emit, and it imports none. The webhooks package drains
the table: it turns each event into a delivery per subscribed endpoint and deletes it.
`lead_id` is a plain number, not a foreign key: an event outlives the lead it names
(`lead.removed`), and a merge does not move it."""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import JSON, ForeignKey, Index, Table
from sqlalchemy.orm import Mapped, Session, mapped_column

from inboxcrm.db import Base, driver_insert, driver_value, enum_column


class EventType(enum.StrEnum):
    lead_created = "lead.created"
    lead_updated = "lead.updated"
    lead_merged = "lead.merged"
    lead_removed = "lead.removed"
    stage_changed = "stage.changed"
    reply_received = "reply.received"
    score_crossed = "score.crossed"
    temperature_changed = "lead.temperature_changed"  # 24 characters: the column's length
    email_sent = "email.sent"
    email_bounced = "email.bounced"
    lead_unsubscribed = "lead.unsubscribed"
    sequence_exited = "sequence.exited"
    test = "test"  # "send test event": one endpoint's, never fanned out to others


class Event(Base):
    __tablename__ = "event"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    type: Mapped[EventType] = mapped_column(enum_column(EventType))
    lead_id: Mapped[int | None]
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    occurred_at: Mapped[dt.datetime]
    # The webhooks' tick claims events through this queue (`inboxcrm.queue`): set when
    # written, pushed a lease ahead while one tick fans them out, the row deleted after.
    fanout_at: Mapped[dt.datetime | None]

    __table_args__ = (Index(None, "fanout_at"),)


def public_id(event_id: int) -> str:
    return f"evt_{event_id}"


def emit(
    session: Session,
    workspace_id: int,
    type: EventType,
    now: dt.datetime,
    data: dict[str, Any],
    lead_id: int | None = None,
) -> None:
    """Record one event in the caller's transaction."""
    emit_many(session, workspace_id, type, now, [(lead_id, data)])


def emit_many(
    session: Session,
    workspace_id: int,
    type: EventType,
    now: dt.datetime,
    events: Sequence[tuple[int | None, dict[str, Any]]],
) -> None:
    """Record events of one type in one multi-row INSERT (an import's thousand leads)."""
    emit_all(session, workspace_id, now, [(type, lead_id, data) for lead_id, data in events])


def emit_all(
    session: Session,
    workspace_id: int,
    now: dt.datetime,
    events: Sequence[tuple[EventType, int | None, dict[str, Any]]],
) -> None:
    """Record events of any types in one INSERT, each value in the driver's form: no ORM
    work per row (a sync batch's score changes emit hundreds)."""
    if not events:
        return
    table = cast(Table, Event.__table__)
    kind, data, when = (driver_value(session, table.c[name])
                        for name in ("type", "data", "occurred_at"))  # fmt: skip
    at = when(now)
    session.flush()  # after the session's own pending rows, as its own INSERT would be
    rows = [(workspace_id, kind(t), lead_id, data(d), at, at) for t, lead_id, d in events]
    driver_insert(session, table, _COLUMNS, rows)


_COLUMNS = ("workspace_id", "type", "lead_id", "data", "occurred_at", "fanout_at")
