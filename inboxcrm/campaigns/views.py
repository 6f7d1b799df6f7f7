"""The templates pages: the list, the editor with a preview as any lead of a segment (step
through its leads), and the leads it fails for, each with the reason."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from markupsafe import Markup

from inboxcrm.accounts.permissions import Managed, may_manage
from inboxcrm.campaigns import templates as service
from inboxcrm.campaigns.models import EmailTemplate
from inboxcrm.campaigns.render import LEAD_FIELDS, Rendered, TemplateProblem
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError
from inboxcrm.segments import service as segments
from inboxcrm.segments.filters import FilterProblem, parse
from inboxcrm.segments.models import Segment
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("campaigns", __name__)

STARTER_SUBJECT = 'Quick question, {{ lead.first_name | default("there") }}'
STARTER_BODY = """Hi {{ lead.first_name | default("there") }},

I saw that {{ company.name | default("your team") }} is growing. Would a short call next
week be useful?

Best,
{{ sender.name }}
"""


def _int(name: str) -> int | None:
    raw = (request.args.get(name) or "").strip()
    return int(raw) if raw.isdigit() else None


@bp.get("/templates")
@login_required
def templates() -> str:
    return render_template(
        "campaigns/templates.html",
        templates=service.templates_of(scope()),
        may_manage=may_manage(member(), Managed.templates),
    )


@bp.route("/templates/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    form = {"name": "", "subject": STARTER_SUBJECT, "body": STARTER_BODY}
    error = ""
    if request.method == "POST":
        form = {k: request.form.get(k, "") for k in ("name", "subject", "body")}
        try:
            created = service.create_template(
                scope(), member(), form["name"], form["subject"], form["body"], utcnow()
            )
            db_session().commit()
        except DomainError as exc:
            db_session().rollback()
            error = exc.message
        else:
            flash(f"Template {created.name} saved.")
            return redirect(url_for("campaigns.edit", template_id=created.id))
    html = render_template(
        "campaigns/edit.html",
        template=None,
        form=form,
        error=error,
        may_manage=may_manage(member(), Managed.templates),
        **_preview(None),
    )
    return (html, 422) if error else html


def _preview(template: EmailTemplate | None) -> dict[str, Any]:
    """The preview panel: a segment, which of its leads (`at`, from 0), the message, and
    the leads of that segment the template fails for."""
    s, now, me = scope(), utcnow(), member()
    chosen_id = _int("segment")
    at = _int("at") or 0
    out: dict[str, Any] = {
        "segments": segments.segments_of(s),
        "segment": None,
        "at": at,
        "total": 0,
        "lead": None,
        "rendered": None,
        "problem": None,
        "check": None,
        "lead_fields": ", ".join(LEAD_FIELDS),
    }
    if template is None or chosen_id is None:
        return out
    segment = s.find(Segment, chosen_id)
    if segment is None:
        return out
    out["segment"] = segment
    try:
        node = parse(segment.filter)
        total = segments.count(s, node, now)
        at = min(at, max(total - 1, 0))
        found = segments.first_leads(s, node, now, limit=1, offset=at)
        check = service.failures(s, template.current, node, me, now)
    except FilterProblem as exc:
        out["problem"] = f"the segment's filter is no longer valid: {exc.message}"
        return out
    out.update(total=total, at=at, check=check)
    if found:
        lead = found[0]
        out["lead"] = lead
        try:
            rendered: Rendered = service.preview(template.current, lead, me)
            out["rendered"] = rendered
            # Merge values escaped into Markdown's sanitized HTML (render.py).
            out["html"] = Markup(rendered.html)  # noqa: S704
        except TemplateProblem as exc:
            out["problem"] = str(exc)
    return out


@bp.get("/templates/<int:template_id>")
@login_required
def edit(template_id: int) -> str:
    found = scope().get(EmailTemplate, template_id)
    form = {"name": found.name, "subject": found.current.subject, "body": found.current.body}
    return render_template(
        "campaigns/edit.html",
        template=found,
        form=form,
        error="",
        may_manage=may_manage(member(), Managed.templates),
        **_preview(found),
    )


@bp.post("/templates/<int:template_id>")
@login_required
def save(template_id: int) -> Any:
    found = scope().get(EmailTemplate, template_id)
    form = {k: request.form.get(k, "") for k in ("name", "subject", "body")}
    before = found.current.number
    try:
        service.update_template(
            scope(),
            member(),
            found,
            utcnow(),
            name=form["name"],
            subject=form["subject"],
            body=form["body"],
        )
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        found = scope().get(EmailTemplate, template_id)
        html = render_template(
            "campaigns/edit.html",
            template=found,
            form=form,
            error=exc.message,
            may_manage=True,
            **_preview(found),
        )
        return html, exc.status
    if found.current.number != before:
        flash(f"Saved as version {found.current.number}.")
    else:
        flash("Saved.")
    args: dict[str, Any] = {k: v for k, v in request.args.items() if k in ("segment", "at")}
    return redirect(url_for("campaigns.edit", template_id=found.id, **args))
