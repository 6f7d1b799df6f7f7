"""Why this score: a lead's score with its parts (engagement and fit), each award's reason
and what it is worth today, newest first, and the last 90 days as a chart."""

from __future__ import annotations

from flask import Blueprint, render_template

from inboxcrm.db import utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.chart import chart
from inboxcrm.scoring.panel import CHART_DAYS, temperature_changes
from inboxcrm.scoring.score import breakdown, series
from inboxcrm.scoring.stored import awards_of
from inboxcrm.web import login_required, member, scope

bp = Blueprint("scoring", __name__)
SHOWN_LINES = 100  # the newest awards, one a line; older ones are added up in one
SHOWN_CHANGES = 10  # the newest changes of temperature


@bp.get("/leads/<int:lead_id>/score")
@login_required
def why(lead_id: int) -> str:
    s = scope()
    lead = s.get(Lead, lead_id)
    now = utcnow()
    awards = awards_of(s.session, lead)
    changes = temperature_changes(s, lead.id, SHOWN_CHANGES)
    seen = breakdown(awards, now)
    older = seen.lines[SHOWN_LINES:]
    return render_template(
        "scoring/why.html",
        lead=lead,
        seen=seen,
        lines=seen.lines[:SHOWN_LINES],
        older=len(older),
        older_worth=sum(line.today for line in older),
        chart=chart(series(awards, now, CHART_DAYS)),
        days=CHART_DAYS,
        changes=changes,
        tz=member().timezone,
    )
