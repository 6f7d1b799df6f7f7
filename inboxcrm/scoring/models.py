"""Scoring's tables: the awards a lead holds (replaced as a set when the lead is
rescored), and the append-only history of its temperature."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.db import Base, InWorkspace, enum_column
from inboxcrm.leads.models import Temperature
from inboxcrm.scoring.rules import Part


class ScoreEvent(InWorkspace, Base):
    """One award a rule gave a lead: its points when given, how fast they fade, and the
    sentence a rep reads. A rescore leaves the rows it would write again untouched."""

    __tablename__ = "score_event"

    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(40))
    part: Mapped[Part] = mapped_column(enum_column(Part))
    points: Mapped[int]
    half_life_days: Mapped[int | None]
    awarded_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(String(300))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))

    __table_args__ = (Index(None, "lead_id", "awarded_at"),)


class TemperatureChange(InWorkspace, Base):
    """Append-only: a lead's temperature went from one to another (None: none) at a time."""

    __tablename__ = "temperature_change"

    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    from_temperature: Mapped[Temperature | None] = mapped_column(enum_column(Temperature))
    to_temperature: Mapped[Temperature | None] = mapped_column(enum_column(Temperature))
    changed_at: Mapped[dt.datetime]

    __table_args__ = (
        Index(None, "lead_id", "changed_at"),
        Index(None, "workspace_id", "changed_at"),
    )
