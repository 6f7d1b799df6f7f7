"""The pipeline's words: stages (keyed by kind, never by name) and the record of each move."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, enum_column, utcnow


class StageKind(enum.StrEnum):
    """Logic keys on the kind, never on a stage's (renamable) name."""

    open = "open"
    won = "won"
    lost = "lost"
    nurture = "nurture"
    unqualified = "unqualified"


class ChangeSource(enum.StrEnum):
    member = "member"
    label = "label"
    rule = "rule"
    api = "api"
    import_ = "import"


class Stage(InWorkspace, Base):
    __tablename__ = "stage"

    name: Mapped[str] = mapped_column(String(60))
    kind: Mapped[StageKind] = mapped_column(enum_column(StageKind))
    position: Mapped[int]
    # Gmail label name for this stage; None for the entry stage, which needs no label.
    label: Mapped[str | None] = mapped_column(String(225))

    __table_args__ = (
        UniqueConstraint("workspace_id", "name"),
        Index(None, "workspace_id", "position"),
    )


class StageChange(InWorkspace, Base):
    """Append-only: who or what moved a lead, from where to where, when."""

    __tablename__ = "stage_change"

    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    from_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id", ondelete="SET NULL"))
    to_stage_id: Mapped[int | None] = mapped_column(ForeignKey("stage.id", ondelete="SET NULL"))
    changed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    source: Mapped[ChangeSource] = mapped_column(enum_column(ChangeSource))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    detail: Mapped[str] = mapped_column(String(300), default="")

    from_stage: Mapped[Stage | None] = relationship(foreign_keys=[from_stage_id])
    to_stage: Mapped[Stage | None] = relationship(foreign_keys=[to_stage_id])

    __table_args__ = (
        Index(None, "lead_id", "changed_at", "id"),  # the order its pages read
        Index(None, "workspace_id", "changed_at"),
    )
