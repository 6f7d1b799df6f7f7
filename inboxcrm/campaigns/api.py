"""Templates under /api/v1: list, create, read, change (a new version), preview for a lead."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from inboxcrm.api import json_object
from inboxcrm.campaigns import templates as service
from inboxcrm.campaigns.models import EmailTemplate, TemplateVersion
from inboxcrm.campaigns.render import TemplateProblem
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest, Invalid, NotFound
from inboxcrm.leads.models import Lead
from inboxcrm.web import db_session, member, scope

bp = Blueprint("campaigns", __name__)  # templates (campaigns to come), under /api/v1


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
