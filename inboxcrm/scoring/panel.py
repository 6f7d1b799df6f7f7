"""The score's panel on the lead page (`setup.lead_panels`): the score with engagement and
fit apart, the newest awards with their reasons and what each is worth today, and the
90-day chart; the whole list is on `/leads/<id>/score`."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup

from inboxcrm.db import utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.chart import chart
from inboxcrm.scoring.models import TemperatureChange
from inboxcrm.scoring.score import breakdown, series
from inboxcrm.scoring.stored import awards_of
from inboxcrm.tenancy import Scope
from inboxcrm.web import member, scope

CHART_DAYS = 90
SHOWN = 5  # awards on the lead page; the score page has them all


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
    awards = awards_of(scope().session, lead)
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
