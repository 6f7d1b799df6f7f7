from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, enum_column, utcnow


class EmailTemplate(InWorkspace, Base):
    """A reusable mail-merge template. Its text lives in versions: editing adds one, and a
    campaign keeps the version it sent."""

    __tablename__ = "email_template"

    name: Mapped[str] = mapped_column(String(120))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template",
        cascade="all, delete-orphan",
        order_by="TemplateVersion.number",
    )

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)

    @property
    def current(self) -> TemplateVersion:
        return self.versions[-1]


class TemplateVersion(InWorkspace, Base):
    """One text of a template, never changed once written: 1, 2, 3 ..."""

    __tablename__ = "template_version"

    template_id: Mapped[int] = mapped_column(ForeignKey("email_template.id", ondelete="CASCADE"))
    number: Mapped[int]
    subject: Mapped[str] = mapped_column(String(2000))
    body: Mapped[str] = mapped_column(Text)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    template: Mapped[EmailTemplate] = relationship(back_populates="versions")

    __table_args__ = (UniqueConstraint("template_id", "number"), Index(None, "workspace_id"))


class CampaignState(enum.StrEnum):
    draft = "draft"  # being written: nothing planned
    scheduled = "scheduled"  # launched, its first send not yet due
    sending = "sending"
    paused = "paused"  # its planned sends wait (not claimed) until resumed
    done = "done"  # nothing of it waits any more
    cancelled = "cancelled"  # what had not gone was skipped


class SenderMode(enum.StrEnum):
    mailbox = "mailbox"  # every email from one mailbox
    owner = "owner"  # each lead's email from its owner's mailbox, as their own threads


class Schedule(enum.StrEnum):
    now = "now"
    at = "at"  # from `start_at`
    working_hours = "working_hours"  # inside each lead's own working hours (`window`)


LAUNCHED = (CampaignState.scheduled, CampaignState.sending, CampaignState.paused)


class Campaign(InWorkspace, Base):
    """Template x segment x sender x schedule. The version and the audience are fixed at
    launch: its Send rows (source `campaign`, source id the campaign's id) are the audience,
    and `audience` keeps what was excluded and why."""

    __tablename__ = "campaign"

    name: Mapped[str] = mapped_column(String(120))
    template_id: Mapped[int | None] = mapped_column(
        ForeignKey("email_template.id", ondelete="SET NULL")
    )
    version_id: Mapped[int | None] = mapped_column(  # kept at launch
        ForeignKey("template_version.id", ondelete="RESTRICT")
    )
    segment_id: Mapped[int | None] = mapped_column(ForeignKey("segment.id", ondelete="SET NULL"))
    sender_mode: Mapped[SenderMode] = mapped_column(
        enum_column(SenderMode), default=SenderMode.mailbox
    )
    mailbox_id: Mapped[int | None] = mapped_column(ForeignKey("mailbox.id", ondelete="SET NULL"))
    schedule: Mapped[Schedule] = mapped_column(enum_column(Schedule), default=Schedule.now)
    start_at: Mapped[dt.datetime | None]
    window: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # None: working hours
    tracking: Mapped[bool] = mapped_column(default=True)  # and the workspace's setting
    state: Mapped[CampaignState] = mapped_column(
        enum_column(CampaignState), default=CampaignState.draft
    )
    # What launching decided: the leads excluded by reason, the sends planned.
    audience: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    planned: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    launched_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    launched_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    version: Mapped[TemplateVersion | None] = relationship()

    __table_args__ = (UniqueConstraint("workspace_id", "name"), Index(None, "state"))
