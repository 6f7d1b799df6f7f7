"""The outbox's panels on the lead page: whether and why the lead is suppressed (with
"Do not email" and, for admins, lifting a manual one), and its tracked opens and clicks,
people's apart from machines'."""

from __future__ import annotations

from flask import render_template
from markupsafe import Markup
from sqlalchemy import func, select

from inboxcrm.accounts.permissions import Action, may
from inboxcrm.leads.blocklist import display_pattern
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.models import HitKind, TrackingHit, Verdict
from inboxcrm.outbox.suppression import describe, lead_suppressions
from inboxcrm.web import current_member, db_session

MACHINE_WORDS = {
    Verdict.apple_mpp: "Apple Mail Privacy Protection",
    Verdict.gmail_proxy: "Gmail's image proxy",
    Verdict.gmail_prefetch: "Gmail prefetching",
    Verdict.scanner: "security scanners",
}


def suppression_panel(lead: Lead) -> Markup | None:
    viewer = current_member()
    if viewer is None:
        return None
    found = lead_suppressions(db_session(), lead)
    rows = [
        {"address": address, "pattern": display_pattern(row.pattern), "why": describe(row),
         "row": row, "domain": row.pattern.startswith("@")}
        for address, row in sorted(found.items())
    ]  # fmt: skip
    free = [e.email for e in lead.emails if e.email not in found]
    return Markup(  # noqa: S704 - a template's output, autoescaped by Jinja
        render_template(
            "outbox/_suppression.html",
            lead=lead,
            rows=rows,
            free=free,
            may_suppress=may(viewer, Action.suppress, lead.owner_id),
            may_lift=may(viewer, Action.lift, lead.owner_id),
        )
    )


def tracking_panel(lead: Lead) -> Markup | None:
    counts = (
        db_session()
        .execute(
            select(TrackingHit.kind, TrackingHit.verdict, func.count())
            .where(TrackingHit.workspace_id == lead.workspace_id, TrackingHit.lead_id == lead.id)
            .group_by(TrackingHit.kind, TrackingHit.verdict)
        )
        .tuples()
        .all()
    )
    if not counts:
        return None
    people = {HitKind.open: 0, HitKind.click: 0}
    repeats = 0
    machines: dict[Verdict, int] = {}
    machine_opens = machine_clicks = waiting = 0
    for kind, verdict, n in counts:
        if verdict is None:
            waiting += n
        elif verdict is Verdict.person and kind in people:
            people[kind] += n
        elif verdict is Verdict.repeat:
            repeats += n
        elif verdict is not Verdict.person:
            machines[verdict] = machines.get(verdict, 0) + n
            if kind is HitKind.open:
                machine_opens += n
            else:
                machine_clicks += n
    return Markup(  # noqa: S704 - a template's output, autoescaped by Jinja
        render_template(
            "outbox/_tracking.html",
            opens=people[HitKind.open],
            clicks=people[HitKind.click],
            repeats=repeats,
            machine_opens=machine_opens,
            machine_clicks=machine_clicks,
            machines=[(MACHINE_WORDS[v], n) for v, n in sorted(machines.items())],
            waiting=waiting,
        )
    )
