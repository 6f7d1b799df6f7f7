"""Notifications' table: one notice for one member, about one lead."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, enum_column
from inboxcrm.leads.models import Lead


class NoticeKind(enum.StrEnum):
    hot = "hot"  # a lead's temperature turned hot
    waiting = "waiting"  # a new inbound lead has had no answer for the workspace's wait
    unsubscribe = "unsubscribe"  # a lead asked to stop receiving email
    task = "task"  # a sequence's task for the lead's owner ("call Ana")
    rewarmed = "rewarmed"  # a re-engaged cold lead answered or warmed up again
    webhook_disabled = "webhook_disabled"  # an endpoint failed for a day: about no lead


class Notification(InWorkspace, Base):
    """What happened to a lead, for one member. `key` names the event: the same event
    never notifies a member twice (a replayed batch or a second run writes nothing)."""

    __tablename__ = "notification"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    # None for a notice about the workspace rather than a lead (a webhook disabled).
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    kind: Mapped[NoticeKind] = mapped_column(enum_column(NoticeKind))
    text: Mapped[str] = mapped_column(String(300))
    key: Mapped[str] = mapped_column(String(120))
    created_at: Mapped[dt.datetime]
    read_at: Mapped[dt.datetime | None]

    lead: Mapped[Lead | None] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("member_id", "key"),
        Index(None, "member_id", "read_at"),
        Index(None, "member_id", "created_at", "id"),
    )
