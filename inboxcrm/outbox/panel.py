"""The outbox's panels on the lead page: writing to the lead from one's own Gmail with the
lead's sends below, whether and why the lead is suppressed (with "Do not email" and, for
admins, lifting a manual one), and its tracked opens and clicks, people's apart from
machines'."""

from __future__ import annotations

import secrets

from flask import render_template, request
from markupsafe import Markup
from sqlalchemy import func, select

from inboxcrm.accounts.permissions import Action, may
from inboxcrm.errors import DomainError
from inboxcrm.leads.blocklist import display_pattern
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.models import HitKind, Send, TrackingHit, Verdict
from inboxcrm.outbox.oneoff import own_mailbox, own_thread
from inboxcrm.outbox.suppression import describe, lead_suppressions
from inboxcrm.tenancy import Scope
from inboxcrm.web import current_member, db_session

MACHINE_WORDS = {
    Verdict.apple_mpp: "Apple Mail Privacy Protection",
    Verdict.gmail_proxy: "Gmail's image proxy",
    Verdict.gmail_prefetch: "Gmail prefetching",
    Verdict.scanner: "security scanners",
}

STATE_WORDS = {
    "planned": "queued",
    "claimed": "sending",
    "committed": "sending",
    "sent": "sent",
    "skipped": "not sent",
    "failed": "failed",
}
SHOWN_SENDS = 20


def email_panel(lead: Lead) -> Markup | None:
    """The compose form (a reply in the viewer's own thread when the page asks for one)
    and the lead's newest sends with their state."""
    viewer = current_member()
    if viewer is None:
        return None
    scope = Scope(db_session(), lead.workspace_id)
    reply_to = None
    if replying := request.args.get("reply", 0, type=int):
        try:
            reply_to = own_thread(scope, own_mailbox(scope, viewer), replying)
        except DomainError:
            reply_to = None  # no connected Gmail: the form says so when sent
    sends = scope.session.scalars(
        scope.select(Send, Send.lead_id == lead.id)
        .order_by(Send.created_at.desc(), Send.id.desc())
        .limit(SHOWN_SENDS)
    ).all()
    return Markup(  # noqa: S704 - a template's output, autoescaped by Jinja
        render_template(
            "outbox/_email.html",
            lead=lead,
            reply_to=reply_to,
            sends=sends,
            words=STATE_WORDS,
            # A fresh key per form: submitting it twice is one email.
            key=secrets.token_urlsafe(24),
        )
    )


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
