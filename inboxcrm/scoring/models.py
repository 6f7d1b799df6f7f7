"""Scoring's tables: the awards a lead holds (replaced as a set when the lead is
rescored), the append-only history of its temperature, and a workspace's own rules,
temperature lines and ideal customer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.db import Base, InWorkspace, enum_column
from inboxcrm.leads.models import Temperature
from inboxcrm.scoring.rules import Part, Trigger


class ScoreEvent(InWorkspace, Base):
    """One award a rule gave a lead: its points when given, how fast they fade, and the
    sentence a rep reads; with no points, the rule's full points (see `stored`). A rescore
    leaves the rows it would write again untouched."""

    __tablename__ = "score_event"

    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    rule: Mapped[str] = mapped_column(String(40))
    part: Mapped[Part] = mapped_column(enum_column(Part))
    points: Mapped[int | None]  # None: the rule's, with its half-life and reason's end
    half_life_days: Mapped[int | None]
    awarded_at: Mapped[dt.datetime]
    reason: Mapped[str] = mapped_column(String(300))
    activity_id: Mapped[int | None] = mapped_column(ForeignKey("activity.id", ondelete="SET NULL"))

    __table_args__ = (Index(None, "lead_id", "awarded_at"),)


class ScoreSums(Base):
    """A lead's score events added up per rule as of a moment (`sums`), written with its
    `scored_with`: a rescore with nothing new reads no events. Apart from the lead row,
    which every rescore rewrites: these change only when its events do, and on the row
    they would make each of those writes twice as large. One row per lead, found by it."""

    __tablename__ = "score_sums"

    lead_id: Mapped[int] = mapped_column(
        ForeignKey("lead.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    workspace_id: Mapped[int] = mapped_column(ForeignKey("workspace.id", ondelete="CASCADE"))
    sums: Mapped[str] = mapped_column(Text)


class TemperatureChange(InWorkspace, Base):
    """Append-only: a lead's temperature went from one to another (None: none) at a time."""

    __tablename__ = "temperature_change"

    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    from_temperature: Mapped[Temperature | None] = mapped_column(enum_column(Temperature))
    to_temperature: Mapped[Temperature | None] = mapped_column(enum_column(Temperature))
    changed_at: Mapped[dt.datetime]

    __table_args__ = (
        Index(None, "lead_id", "changed_at", "id"),  # the order its pages read
        Index(None, "workspace_id", "changed_at"),
    )


class ScoreSettings(InWorkspace, Base):
    """A workspace's own scoring: its temperature lines, its ideal customer, and the
    workspace rescore a change queued. No row: the defaults (DEFAULT_RULES, Thresholds(),
    any company); the first change writes this row and the rules as rows, and from then on
    the `score_rule` rows are the rules (none left: none)."""

    __tablename__ = "score_settings"

    hot: Mapped[int]
    warm: Mapped[int]
    margin: Mapped[int]
    cold_after_days: Mapped[int]
    # Lower-cased; empty: any. The ideal_company rule needs at least one of them.
    industries: Mapped[list[str]] = mapped_column(JSON, default=list)
    sizes: Mapped[list[str]] = mapped_column(JSON, default=list)
    # The last change queued every lead for a rescore at this time (`Lead.rescore_at`),
    # this many of them: leads still due at or before it are the ones left.
    rescore_from: Mapped[dt.datetime | None]
    rescore_total: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("workspace_id"),)


class ScoreRule(InWorkspace, Base):
    """One of a workspace's rules (`rules.Rule`), in the order the page lists them;
    one turned off scores nothing but keeps its values."""

    __tablename__ = "score_rule"

    key: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(120))
    trigger: Mapped[Trigger] = mapped_column(enum_column(Trigger))
    points: Mapped[int]
    half_life_days: Mapped[int | None]
    cap: Mapped[int | None]
    period_days: Mapped[int | None]
    within_hours: Mapped[int | None]
    enabled: Mapped[bool] = mapped_column(default=True)
    position: Mapped[int] = mapped_column(default=0)

    __table_args__ = (UniqueConstraint("workspace_id", "key"),)


class ScoreRuleSet(InWorkspace, Base):
    """Rules a rescore awarded by, named by their digest (`Lead.scored_with`): a later
    rescore tells from them which rules changed since, and recomputes only those."""

    __tablename__ = "score_rule_set"

    digest: Mapped[str] = mapped_column(String(16))
    rules: Mapped[list[dict[str, Any]]] = mapped_column(JSON)

    __table_args__ = (UniqueConstraint("workspace_id", "digest"),)
