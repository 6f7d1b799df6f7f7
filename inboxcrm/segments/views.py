"""The segments pages: the list with counts, the builder (a live count and the first leads
as she edits, through `/segments/preview`), and "why is this lead in (or not in) it"."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.accounts.models import Member, Role
from inboxcrm.accounts.permissions import Managed, may_manage
from inboxcrm.addresses import normalize_email
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError, Invalid
from inboxcrm.leads.models import ActivityKind, Lead, LeadEmail, Tag, Temperature
from inboxcrm.leads.params import parse_filter
from inboxcrm.segments import service, sources
from inboxcrm.segments.filters import EVERYONE, FIELDS, OPERATORS, SOURCED, dump, parse
from inboxcrm.segments.from_leads import from_lead_filter
from inboxcrm.segments.models import Segment
from inboxcrm.stages.models import StageKind
from inboxcrm.stages.service import list_stages
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("segments", __name__)
_ACTIVITY_WORDS = {ActivityKind.message_out: "email to them (received)"}


def _vocabulary() -> dict[str, Any]:
    """What the builder offers: fields with their operators, and the choices of each."""
    s = scope()
    return {
        "fields": {
            name: {"label": f.label, "kind": f.kind.value, "ops": OPERATORS[f.kind]}
            for name, f in FIELDS.items()
        },
        "choices": {
            "stage": [[st.id, st.name] for st in list_stages(s)],
            "owner": [
                [m.id, m.name or m.email]
                for m in s.session.scalars(s.select(Member).order_by(Member.name, Member.email))
            ],
            "segment": [[sg.id, sg.name] for sg in service.segments_of(s)],
            "stage_kind": [[k.value, k.value] for k in StageKind],
            "temperature": [[t.value, t.value] for t in Temperature],
            "activity": [
                [k.value, _ACTIVITY_WORDS.get(k, k.value.replace("_", " "))] for k in ActivityKind
            ],
            "tag": [[t.name, t.name] for t in s.session.scalars(s.select(Tag).order_by(Tag.name))],
        },
        # What an activity may come from: campaigns, sequences with their steps' numbers.
        "sources": {"kinds": list(SOURCED), **sources.choices(s.session, s.workspace_id)},
    }


@bp.get("/segments")
@login_required
def index() -> str:
    s = scope()
    rows = service.segments_of(s)
    return render_template(
        "segments/index.html",
        segments=rows,
        counts=service.counts(s, rows, utcnow()),
        may_manage=may_manage(member(), Managed.segments),
    )


@bp.get("/segments/new")
@login_required
def new() -> Any:
    """The builder, empty, or holding the leads table's filter (`?from=leads&...`)."""
    start: dict[str, Any] = EVERYONE
    if request.args.get("from") == "leads":
        me = member()
        owner_default = "me" if me.role is Role.rep else "any"
        start = from_lead_filter(parse_filter(request.args, me, owner_default=owner_default))
    return _builder(None, start, "")


def _builder(
    segment: Segment | None,
    filter_: dict[str, Any],
    name: str,
    status: int = 200,
    error: str = "",
) -> Any:
    html = render_template(
        "segments/builder.html",
        segment=segment,
        name=name,
        filter=filter_,
        vocabulary=_vocabulary(),
        error=error,
        may_manage=may_manage(member(), Managed.segments),
    )
    return (html, status) if status != 200 else html


def _posted_filter() -> Any:
    try:
        return json.loads(request.form.get("filter") or "null")
    except ValueError:
        raise Invalid("the filter is not valid JSON") from None


@bp.post("/segments")
@login_required
def create() -> Any:
    name = request.form.get("name", "")
    try:
        raw = _posted_filter()
        created = service.create_segment(scope(), member(), name, raw)
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        raw_json = request.form.get("filter") or "{}"
        return _builder(None, _safe_json(raw_json), name, exc.status, exc.message)
    flash(f"Segment {created.name} saved.")
    return redirect(url_for("segments.show", segment_id=created.id))


def _safe_json(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError:
        return EVERYONE
    return value if isinstance(value, dict) else EVERYONE


@bp.get("/segments/<int:segment_id>")
@login_required
def show(segment_id: int) -> Any:
    found = scope().get(Segment, segment_id)
    return _builder(found, found.filter, found.name)


@bp.post("/segments/<int:segment_id>")
@login_required
def update(segment_id: int) -> Any:
    found = scope().get(Segment, segment_id)
    name = request.form.get("name", "")
    try:
        service.update_segment(scope(), member(), found, name, _posted_filter())
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        found = scope().get(Segment, segment_id)
        raw = _safe_json(request.form.get("filter") or "{}")
        return _builder(found, raw, name, exc.status, exc.message)
    flash(f"Segment {found.name} saved.")
    return redirect(url_for("segments.show", segment_id=found.id))


@bp.post("/segments/<int:segment_id>/delete")
@login_required
def delete(segment_id: int) -> Response:
    found = scope().get(Segment, segment_id)
    try:
        service.delete_segment(scope(), member(), found)
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        flash(f"Not deleted: {exc.message}", "error")
        return redirect(url_for("segments.show", segment_id=segment_id))
    flash(f"Segment {found.name} deleted.")
    return redirect(url_for("segments.index"))


@bp.post("/segments/preview")
@login_required
def preview() -> tuple[Response, int] | Response:
    """The builder's live answer: the count and the first leads, or what is wrong."""
    body = request.get_json(silent=True)
    raw = body.get("filter") if isinstance(body, dict) else None
    s, now = scope(), utcnow()
    try:
        node = service.checked(raw)
        count, leads = service.counted_leads(s, node, now)
    except DomainError as exc:
        db_session().rollback()
        return jsonify(error={"status": exc.status, "message": exc.message}), exc.status
    return jsonify(
        count=count,
        leads=[
            {
                "id": lead.id,
                "name": lead.name or lead.email,
                "email": lead.email,
                "company": lead.company.name if lead.company else "",
                "stage": lead.stage.name,
                "url": url_for("leads.show", lead_id=lead.id),
            }
            for lead in leads
        ],
    )


@bp.get("/segments/<int:segment_id>/why")
@login_required
def why(segment_id: int) -> str:
    """Why a lead (`?lead=` its id or an address) is in this segment or not."""
    s = scope()
    found = s.get(Segment, segment_id)
    asked = (request.args.get("lead") or "").strip()
    lead: Lead | None = None
    problem = ""
    if asked:
        if asked.isdigit():
            lead = s.find(Lead, int(asked))
        else:
            try:
                address = normalize_email(asked)
            except ValueError:
                address = asked.lower()
            lead = s.session.scalars(
                s.select(Lead)
                .join(LeadEmail, LeadEmail.lead_id == Lead.id)
                .where(LeadEmail.email == address)
            ).first()
        if lead is None:
            problem = f"No lead {asked} in this workspace."
    held, verdicts = False, list[service.Verdict]()
    if lead is not None:
        held, verdicts = service.explain(s, parse(found.filter), lead, utcnow())
    return render_template(
        "segments/why.html",
        segment=found,
        lead=lead,
        asked=asked,
        problem=problem,
        held=held,
        verdicts=verdicts,
        filter_json=json.dumps(dump(parse(found.filter)), indent=2),
    )
