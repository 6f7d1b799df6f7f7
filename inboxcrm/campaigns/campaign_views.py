"""The campaign pages: the list, a draft's form with its audience (a number first, with
what is excluded and why), the launch, a test send, pause, resume and cancel, and a
launched campaign's progress and results, kept live by a small script polling
`/campaigns/<id>/stats.json`."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Mailbox, MailboxStatus, Role
from inboxcrm.campaigns import service
from inboxcrm.campaigns.chart import chart
from inboxcrm.campaigns.models import Campaign, CampaignState, Schedule, SenderMode
from inboxcrm.campaigns.service import REASONS, Draft
from inboxcrm.campaigns.stats import stats
from inboxcrm.campaigns.templates import templates_of
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError, Invalid
from inboxcrm.outbox.settings import campaign_problems
from inboxcrm.outbox.windows import Window
from inboxcrm.segments.service import segments_of
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("campaign", __name__)


def _draft(form: Any) -> Draft:
    """The form's fields; a bad date or window is Invalid, saying which."""

    def number(name: str) -> int | None:
        raw = (form.get(name) or "").strip()
        return int(raw) if raw.isdigit() else None

    start_at = None
    if raw := (form.get("start_at") or "").strip():
        try:
            start_at = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise Invalid(
                "the start time is not a date and time", {"start_at": "invalid"}
            ) from None
        if start_at.tzinfo is None:
            start_at = start_at.replace(tzinfo=dt.UTC)
    window = None
    if (form.get("window_start") or "").strip() or (form.get("window_end") or "").strip():
        try:
            days = [int(d) for d in form.getlist("window_days")] or list(range(5))
            window = Window(
                frozenset(days),
                dt.time.fromisoformat(form.get("window_start") or "09:00"),
                dt.time.fromisoformat(form.get("window_end") or "17:00"),
            )
        except ValueError as exc:
            raise Invalid(
                f"the working hours are not valid: {exc}", {"window": "invalid"}
            ) from None
    mode, schedule = form.get("sender_mode"), form.get("schedule")
    return Draft(
        name=form.get("name"),
        template_id=number("template_id"),
        segment_id=number("segment_id"),
        sender_mode=SenderMode(mode) if mode in SenderMode.__members__ else None,
        mailbox_id=number("mailbox_id"),
        schedule=Schedule(schedule) if schedule in Schedule.__members__ else None,
        start_at=start_at,
        window=window,
        tracking=form.get("tracking") == "1" if "tracking_shown" in form else None,
    )


def _choices() -> dict[str, Any]:
    s, me = scope(), member()
    mailboxes = list(
        s.session.scalars(
            s.select(Mailbox, Mailbox.status == MailboxStatus.connected).order_by(Mailbox.email)
        )
    )
    if me.role is Role.rep:
        mailboxes = [m for m in mailboxes if m.member_id == me.id]
    return {
        "templates": templates_of(s),
        "segments": segments_of(s),
        "mailboxes": mailboxes,
        "reasons": REASONS,
    }


@bp.get("/campaigns")
@login_required
def index() -> str:
    return render_template("campaigns/campaigns.html", campaigns=service.campaigns_of(scope()))


@bp.route("/campaigns/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    error = ""
    if request.method == "POST":
        try:
            created = service.create_campaign(scope(), member(), _draft(request.form), utcnow())
            db_session().commit()
        except DomainError as exc:
            db_session().rollback()
            error = exc.message
        else:
            flash(f"Campaign {created.name} saved as a draft.")
            return redirect(url_for("campaign.show", campaign_id=created.id))
    html = render_template("campaigns/new.html", error=error, form=request.form, **_choices())
    return (html, 422) if error else html


@bp.get("/campaigns/<int:campaign_id>")
@login_required
def show(campaign_id: int) -> str:
    s, me, now = scope(), member(), utcnow()
    campaign = s.get(Campaign, campaign_id)
    service.settle(s, campaign, now)
    db_session().commit()
    context: dict[str, Any] = {
        "campaign": campaign,
        "may_edit": service.may_edit(me, campaign),
        "key": secrets.token_urlsafe(24),
        **_choices(),
    }
    if campaign.state is CampaignState.draft:
        context["problems"] = campaign_problems(s.session, s.workspace_id)
        try:
            context["audience"] = service.audience(s, me, campaign, now).as_json()
            context["preview"] = service.preview_first(s, me, campaign, now)
        except DomainError as exc:
            context["audience_problem"] = exc.message
    else:
        found = stats(s, campaign, now)
        context["stats"] = found
        context["chart"] = chart(found.series, campaign.launched_at or now, now)
    return render_template("campaigns/campaign.html", **context)


@bp.post("/campaigns/<int:campaign_id>")
@login_required
def save(campaign_id: int) -> Response:
    s = scope()
    campaign = s.get(Campaign, campaign_id)
    try:
        service.update_campaign(s, member(), campaign, _draft(request.form), utcnow())
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        flash(f"Not saved: {exc.message}", "error")
    else:
        flash("Saved.")
    return redirect(url_for("campaign.show", campaign_id=campaign_id))


def _act(campaign_id: int, verb: str, done: str) -> Response:
    s = scope()
    campaign = s.get(Campaign, campaign_id)
    action = getattr(service, verb)
    try:
        action(s, member(), campaign, utcnow())
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        flash(f"Not {done}: {exc.message}", "error")
    else:
        flash(f"Campaign {done}.")
    return redirect(url_for("campaign.show", campaign_id=campaign_id))


@bp.post("/campaigns/<int:campaign_id>/launch")
@login_required
def launch(campaign_id: int) -> Response:
    return _act(campaign_id, "launch", "launched")


@bp.post("/campaigns/<int:campaign_id>/pause")
@login_required
def pause(campaign_id: int) -> Response:
    return _act(campaign_id, "pause", "paused")


@bp.post("/campaigns/<int:campaign_id>/resume")
@login_required
def resume(campaign_id: int) -> Response:
    return _act(campaign_id, "resume", "resumed")


@bp.post("/campaigns/<int:campaign_id>/cancel")
@login_required
def cancel(campaign_id: int) -> Response:
    return _act(campaign_id, "cancel", "cancelled")


@bp.post("/campaigns/<int:campaign_id>/test")
@login_required
def test(campaign_id: int) -> Response:
    s, me = scope(), member()
    campaign = s.get(Campaign, campaign_id)
    try:
        service.send_test(s, me, campaign, utcnow(), key=request.form.get("key", ""))
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        flash(f"No test sent: {exc.message}", "error")
    else:
        flash(f"A test is on its way to {me.email}.")
    return redirect(url_for("campaign.show", campaign_id=campaign_id))


@bp.get("/campaigns/<int:campaign_id>/stats.json")
@login_required
def live(campaign_id: int) -> Response:
    """What the page's script polls: the state, progress, results and rates."""
    s, now = scope(), utcnow()
    campaign = s.get(Campaign, campaign_id)
    service.settle(s, campaign, now)
    db_session().commit()
    found = stats(s, campaign, now)
    return jsonify({"state": campaign.state.value, **found.as_json()})
