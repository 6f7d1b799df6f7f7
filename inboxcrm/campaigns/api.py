"""Templates and campaigns under /api/v1: templates listed, created, read, changed (a new
version) and previewed for a lead; campaigns created, changed while drafts, their audience,
a preview for a lead, launch, pause, resume, cancel, a test send and the stats."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Blueprint, url_for

from inboxcrm.api import json_object
from inboxcrm.campaigns import service as campaign_service
from inboxcrm.campaigns import templates as service
from inboxcrm.campaigns.models import (
    Campaign,
    CampaignState,
    EmailTemplate,
    Schedule,
    SenderMode,
    TemplateVersion,
)
from inboxcrm.campaigns.render import TemplateProblem
from inboxcrm.campaigns.service import Draft
from inboxcrm.campaigns.stats import stats
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest, Invalid, NotFound
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.windows import Window
from inboxcrm.web import db_session, member, scope

bp = Blueprint("campaigns", __name__)  # templates and campaigns, under /api/v1


def version_json(version: TemplateVersion) -> dict[str, Any]:
    return {
        "number": version.number,
        "subject": version.subject,
        "body": version.body,
        "created_at": version.created_at.isoformat(),
    }


def template_json(template: EmailTemplate) -> dict[str, Any]:
    return {
        "id": template.id,
        "name": template.name,
        "version": version_json(template.current),
        "versions": len(template.versions),
        "created_at": template.created_at.isoformat(),
        "updated_at": template.updated_at.isoformat(),
    }


def _text(body: dict[str, Any], key: str, required: bool = False) -> str | None:
    value = body.get(key)
    if value is None and required:
        raise Invalid("the request has invalid fields", {key: "required"})
    if value is not None and not isinstance(value, str):
        raise Invalid("the request has invalid fields", {key: "must be text"})
    return value


@bp.get("/templates")
def templates() -> dict[str, Any]:
    return {"templates": [template_json(t) for t in service.templates_of(scope())]}


@bp.post("/templates")
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = json_object()
    created = service.create_template(
        scope(),
        member(),
        _text(body, "name", True) or "",
        _text(body, "subject", True) or "",
        _text(body, "body", True) or "",
        utcnow(),
    )
    db_session().commit()
    location = url_for("api.campaigns.template", template_id=created.id)
    return template_json(created), 201, {"Location": location}


@bp.get("/templates/<int:template_id>")
def template(template_id: int) -> dict[str, Any]:
    return template_json(scope().get(EmailTemplate, template_id))


@bp.patch("/templates/<int:template_id>")
def update(template_id: int) -> dict[str, Any]:
    found = scope().get(EmailTemplate, template_id)
    body = json_object()
    service.update_template(
        scope(),
        member(),
        found,
        utcnow(),
        name=_text(body, "name"),
        subject=_text(body, "subject"),
        body=_text(body, "body"),
    )
    db_session().commit()
    return template_json(found)


@bp.post("/templates/<int:template_id>/preview")
def preview(template_id: int) -> dict[str, Any]:
    """The message `lead_id` would get (from you), for `version` (the latest if left out);
    a template that fails for that lead is a 422 saying where and why."""
    found = scope().get(EmailTemplate, template_id)
    body = json_object()
    lead_id, number = body.get("lead_id"), body.get("version")
    if isinstance(lead_id, bool) or not isinstance(lead_id, int):
        raise BadRequest("lead_id must be a lead's id")
    version = found.current
    if number is not None:
        matches = [v for v in found.versions if v.number == number]
        if not matches:
            raise NotFound(f"template {found.id} has no version {number!r}")
        version = matches[0]
    lead = scope().get(Lead, lead_id)
    try:
        rendered = service.preview(version, lead, member())
    except TemplateProblem as exc:
        fields = {"part": exc.part or "body", "reason": exc.reason}
        if exc.line:
            fields["line"] = str(exc.line)
        raise Invalid(f"the template fails for this lead: {exc}", fields) from None
    return {
        "version": version.number,
        "lead_id": lead.id,
        "subject": rendered.subject,
        "html": rendered.html,
        "text": rendered.text,
    }


# Campaigns --------------------------------------------------------------------------


def campaign_json(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "name": campaign.name,
        "state": campaign.state.value,
        "template_id": campaign.template_id,
        "version": campaign.version.number if campaign.version is not None else None,
        "segment_id": campaign.segment_id,
        "sender_mode": campaign.sender_mode.value,
        "mailbox_id": campaign.mailbox_id,
        "schedule": campaign.schedule.value,
        "start_at": campaign.start_at.isoformat() if campaign.start_at else None,
        "window": campaign.window,
        "tracking": campaign.tracking,
        "planned": campaign.planned,
        "audience": campaign.audience,
        "launched_at": campaign.launched_at.isoformat() if campaign.launched_at else None,
        "finished_at": campaign.finished_at.isoformat() if campaign.finished_at else None,
        "created_at": campaign.created_at.isoformat(),
    }


def _id(body: dict[str, Any], key: str) -> int | None:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise Invalid("the request has invalid fields", {key: "must be an id"})
    return value


def _choice(body: dict[str, Any], key: str, kind: type[Any]) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if value not in kind.__members__:
        raise Invalid("the request has invalid fields",
                      {key: "one of " + ", ".join(kind.__members__)})  # fmt: skip
    return kind(value)


def _draft(body: dict[str, Any]) -> Draft:
    start_at = None
    if (raw := _text(body, "start_at")) is not None:
        try:
            start_at = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise Invalid("the request has invalid fields", {"start_at": "ISO 8601"}) from None
        if start_at.tzinfo is None:
            raise Invalid("the request has invalid fields", {"start_at": "needs a UTC offset"})
    window = None
    if (raw_window := body.get("window")) is not None:
        if not isinstance(raw_window, dict):
            raise Invalid("the request has invalid fields", {"window": "an object"})
        try:
            window = Window.from_json(raw_window)
        except (ValueError, TypeError) as exc:
            raise Invalid("the request has invalid fields", {"window": str(exc)}) from None
    tracking = body.get("tracking")
    if tracking is not None and not isinstance(tracking, bool):
        raise Invalid("the request has invalid fields", {"tracking": "true or false"})
    return Draft(
        name=_text(body, "name"),
        template_id=_id(body, "template_id"),
        segment_id=_id(body, "segment_id"),
        sender_mode=_choice(body, "sender_mode", SenderMode),
        mailbox_id=_id(body, "mailbox_id"),
        schedule=_choice(body, "schedule", Schedule),
        start_at=start_at,
        window=window,
        tracking=tracking,
    )


@bp.get("/campaigns")
def campaigns() -> dict[str, Any]:
    return {"campaigns": [campaign_json(c) for c in campaign_service.campaigns_of(scope())]}


@bp.post("/campaigns")
def create_campaign() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = json_object()
    _text(body, "name", True)
    created = campaign_service.create_campaign(scope(), member(), _draft(body), utcnow())
    db_session().commit()
    location = url_for("api.campaigns.campaign", campaign_id=created.id)
    return campaign_json(created), 201, {"Location": location}


@bp.get("/campaigns/<int:campaign_id>")
def campaign(campaign_id: int) -> dict[str, Any]:
    found = scope().get(Campaign, campaign_id)
    campaign_service.settle(scope(), found, utcnow())
    db_session().commit()
    return campaign_json(found)


@bp.patch("/campaigns/<int:campaign_id>")
def update_campaign(campaign_id: int) -> dict[str, Any]:
    found = scope().get(Campaign, campaign_id)
    campaign_service.update_campaign(scope(), member(), found, _draft(json_object()), utcnow())
    db_session().commit()
    return campaign_json(found)


@bp.get("/campaigns/<int:campaign_id>/audience")
def campaign_audience(campaign_id: int) -> dict[str, Any]:
    """Who a launch now would send to, and who not and why (a launched one: as fixed)."""
    found = scope().get(Campaign, campaign_id)
    if found.state is not CampaignState.draft:
        return found.audience or {}
    return campaign_service.audience(scope(), member(), found, utcnow()).as_json()


@bp.post("/campaigns/<int:campaign_id>/preview")
def campaign_preview(campaign_id: int) -> dict[str, Any]:
    """The email `lead_id` would get: the launched version, or the template's latest."""
    found = scope().get(Campaign, campaign_id)
    body = json_object()
    lead_id = body.get("lead_id")
    if isinstance(lead_id, bool) or not isinstance(lead_id, int):
        raise BadRequest("lead_id must be a lead's id")
    lead = scope().get(Lead, lead_id)
    if found.version is not None:
        version = found.version
    elif found.template_id is not None:
        version = scope().get(EmailTemplate, found.template_id).current
    else:
        raise Invalid("the campaign has no template yet", {"template_id": "required"})
    try:
        rendered = service.preview(version, lead, member())
    except TemplateProblem as exc:
        raise Invalid(f"the template fails for this lead: {exc}",
                      {"part": exc.part or "body", "reason": exc.reason}) from None  # fmt: skip
    return {"version": version.number, "lead_id": lead.id, "subject": rendered.subject,
            "html": rendered.html, "text": rendered.text}  # fmt: skip


def _act(campaign_id: int, action: Any) -> dict[str, Any]:
    found = scope().get(Campaign, campaign_id)
    action(scope(), member(), found, utcnow())
    db_session().commit()
    return campaign_json(found)


@bp.post("/campaigns/<int:campaign_id>/launch")
def launch(campaign_id: int) -> dict[str, Any]:
    """Launching twice launches once: the second answer is the campaign as launched."""
    return _act(campaign_id, campaign_service.launch)


@bp.post("/campaigns/<int:campaign_id>/pause")
def pause(campaign_id: int) -> dict[str, Any]:
    return _act(campaign_id, campaign_service.pause)


@bp.post("/campaigns/<int:campaign_id>/resume")
def resume(campaign_id: int) -> dict[str, Any]:
    return _act(campaign_id, campaign_service.resume)


@bp.post("/campaigns/<int:campaign_id>/cancel")
def cancel(campaign_id: int) -> dict[str, Any]:
    return _act(campaign_id, campaign_service.cancel)


@bp.post("/campaigns/<int:campaign_id>/test")
def test(campaign_id: int) -> tuple[dict[str, Any], int]:
    """A test to yourself; `key` (16 to 64 letters, digits, - or _) makes a retry one test."""
    found = scope().get(Campaign, campaign_id)
    body = json_object()
    key = _text(body, "key", True) or ""
    if not 16 <= len(key) <= 64 or not all(c.isalnum() or c in "-_" for c in key):
        raise Invalid("the request has invalid fields", {"key": "16 to 64 letters and digits"})
    lead = None
    if (lead_id := _id(body, "lead_id")) is not None:
        lead = scope().get(Lead, lead_id)
    send = campaign_service.send_test(scope(), member(), found, utcnow(), key=key, lead=lead)
    db_session().commit()
    return {"send_id": send.id, "to": send.to_email, "subject": send.subject}, 202


@bp.get("/campaigns/<int:campaign_id>/stats")
def campaign_stats(campaign_id: int) -> dict[str, Any]:
    found = scope().get(Campaign, campaign_id)
    now = utcnow()
    campaign_service.settle(scope(), found, now)
    db_session().commit()
    return {"state": found.state.value, **stats(scope(), found, now).as_json()}
