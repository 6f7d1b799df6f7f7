"""Why this score: a lead's score with its parts (engagement and fit), each award's reason
and what it is worth today, newest first, and the last 90 days as a chart."""

from __future__ import annotations

from flask import Blueprint, render_template

from inboxcrm.db import utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.chart import chart
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.scoring.rescore import as_award
from inboxcrm.scoring.score import breakdown, series
from inboxcrm.web import login_required, member, scope

bp = Blueprint("scoring", __name__)
CHART_DAYS = 90


@bp.get("/leads/<int:lead_id>/score")
@login_required
def why(lead_id: int) -> str:
    s = scope()
    lead = s.get(Lead, lead_id)
    now = utcnow()
    awards = [
        as_award(e)
        for e in s.session.scalars(
            s.select(ScoreEvent).where(ScoreEvent.lead_id == lead.id).order_by(ScoreEvent.id)
        )
    ]
    changes = s.session.scalars(
        s.select(TemperatureChange, TemperatureChange.lead_id == lead.id)
        .order_by(TemperatureChange.changed_at.desc(), TemperatureChange.id.desc())
        .limit(10)
    ).all()
    return render_template(
        "scoring/why.html",
        lead=lead,
        seen=breakdown(awards, now),
        chart=chart(series(awards, now, CHART_DAYS)),
        days=CHART_DAYS,
        changes=changes,
        tz=member().timezone,
    )
