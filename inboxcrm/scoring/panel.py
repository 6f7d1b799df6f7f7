"""The score's panel on the lead page (`setup.lead_panels`): the score with engagement and
fit apart, the newest awards with their reasons and what each is worth today, and the
90-day chart; the whole list is on `/leads/<id>/score`."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup
from sqlalchemy import select

from inboxcrm.db import driver_rows, driver_time, utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.awards import Award
from inboxcrm.scoring.chart import chart
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.scoring.rules import Part
from inboxcrm.scoring.score import breakdown, series
from inboxcrm.tenancy import Scope
from inboxcrm.web import member, scope

CHART_DAYS = 90
SHOWN = 5  # awards on the lead page; the score page has them all


def awards_of(s: Scope, lead_id: int) -> list[Award]:
    """The lead's stored awards, oldest first, read as the driver returns rows (a lead may
    hold hundreds: SQLAlchemy's conversion of each value would be most of the read)."""
    rows = driver_rows(s.session,
        select(ScoreEvent.rule, ScoreEvent.part, ScoreEvent.points, ScoreEvent.awarded_at,
               ScoreEvent.half_life_days, ScoreEvent.reason, ScoreEvent.activity_id)
        .where(ScoreEvent.workspace_id == s.workspace_id, ScoreEvent.lead_id == lead_id)
        .order_by(ScoreEvent.id)
    )  # fmt: skip
    parts = {p.value: p for p in Part}
    return [
        Award(rule, parts[part], points, driver_time(at), half_life, reason, source)
        for rule, part, points, at, half_life, reason, source in rows
    ]


def temperature_changes(s: Scope, lead_id: int, limit: int) -> list[TemperatureChange]:
    """The lead's newest changes of temperature, newest first (the id breaking ties)."""
    return list(
        s.session.scalars(
            s.select(TemperatureChange, TemperatureChange.lead_id == lead_id)
            .order_by(TemperatureChange.changed_at.desc(), TemperatureChange.id.desc())
            .limit(limit)
        )
    )


def score_panel(lead: Lead) -> Markup:
    now = utcnow()
    awards = awards_of(scope(), lead.id)
    seen = breakdown(awards, now)
    return Markup(  # noqa: S704  (an autoescaped template's output)
        render_template(
            "scoring/_panel.html",
            lead=lead,
            seen=seen,
            lines=seen.lines[:SHOWN],
            more=len(seen.lines) - SHOWN,
            chart=chart(series(awards, now, CHART_DAYS)),
            days=CHART_DAYS,
            tz=member().timezone,
        )
    )
