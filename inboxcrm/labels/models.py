"""Which Gmail label is each stage's, in each mailbox."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, utcnow
from inboxcrm.stages.models import Stage


class StageLabel(InWorkspace, Base):
    """A stage's Gmail label in one mailbox, kept by Gmail's label id: a label renamed by
    hand in Gmail keeps working, and only its shown name changes."""

    __tablename__ = "stage_label"

    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id", ondelete="CASCADE"))
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"))
    gmail_id: Mapped[str] = mapped_column(String(64))
    # The label's name as Gmail last showed it (a rep may have renamed it there).
    name: Mapped[str] = mapped_column(String(225))
    # The stage's label name when Gmail was last made to match it: a stage label renamed
    # in inboxcrm since then is renamed in Gmail too.
    wanted: Mapped[str] = mapped_column(String(225))
    checked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Deleted in Gmail and recreated: shown on the stage settings until the next change.
    recreated_at: Mapped[dt.datetime | None]

    stage: Mapped[Stage] = relationship()

    __table_args__ = (
        UniqueConstraint("mailbox_id", "stage_id"),
        UniqueConstraint("mailbox_id", "gmail_id"),
        Index(None, "stage_id"),
    )
