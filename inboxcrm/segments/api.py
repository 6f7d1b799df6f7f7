"""Segments under /api/v1: create, read, change, evaluate (count and a page of leads),
delete. Marketers and admins manage them; everyone may read and evaluate."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request, url_for

from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest
from inboxcrm.leads.serialize import lead_json
from inboxcrm.segments import service
from inboxcrm.segments.models import Segment
from inboxcrm.segments.service import checked
from inboxcrm.web import db_session, member, scope

bp = Blueprint("segments", __name__)  # saved segments, under /api/v1
MAX_PER_PAGE = 100


def segment_json(segment: Segment, count: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": segment.id,
        "name": segment.name,
        "filter": segment.filter,
        "created_at": segment.created_at.isoformat(),
        "updated_at": segment.updated_at.isoformat(),
    }
    if count is not None:
        out["count"] = count
    return out


def _page_args() -> tuple[int, int]:
    try:
        page = int(request.args.get("page", "1"))
        per_page = int(request.args.get("per_page", "50"))
    except ValueError:
        raise BadRequest("page and per_page must be whole numbers") from None
    if page < 1 or not 1 <= per_page <= MAX_PER_PAGE:
        raise BadRequest(f"page must be 1 or more, per_page between 1 and {MAX_PER_PAGE}")
    return page, per_page


def _text(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise BadRequest(f"{key} must be text")
    return value


@bp.get("/segments")
def segments() -> dict[str, Any]:
    s = scope()
    rows = service.segments_of(s)
    counts = service.counts(s, rows, utcnow())
    return {"segments": [segment_json(row, counts[row.id]) for row in rows]}


@bp.post("/segments")
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = json_object()
    if "filter" not in body:
        raise BadRequest('send "name" and "filter"')
    created = service.create_segment(scope(), member(), _text(body, "name") or "", body["filter"])
    db_session().commit()
    location = url_for("api.segments.segment", segment_id=created.id)
    return segment_json(created), 201, {"Location": location}


@bp.get("/segments/<int:segment_id>")
def segment(segment_id: int) -> dict[str, Any]:
    found = scope().get(Segment, segment_id)
    return segment_json(found, service.count(scope(), checked(found.filter), utcnow()))


@bp.patch("/segments/<int:segment_id>")
def update(segment_id: int) -> dict[str, Any]:
    found = scope().get(Segment, segment_id)
    body = json_object()
    service.update_segment(scope(), member(), found, _text(body, "name"), body.get("filter"))
    db_session().commit()
    return segment_json(found)


@bp.delete("/segments/<int:segment_id>")
def delete(segment_id: int) -> tuple[str, int]:
    service.delete_segment(scope(), member(), scope().get(Segment, segment_id))
    db_session().commit()
    return "", 204


def _evaluated(node: Any) -> dict[str, Any]:
    page, per_page = _page_args()
    s, now = scope(), utcnow()
    count, leads = service.counted_leads(s, node, now, per_page, (page - 1) * per_page)
    return {
        "count": count,
        "page": page,
        "per_page": per_page,
        "leads": [lead_json(lead) for lead in leads],
    }


@bp.get("/segments/<int:segment_id>/leads")
def evaluate(segment_id: int) -> dict[str, Any]:
    """The segment now: how many leads, and a page of them (newest first)."""
    return _evaluated(checked(scope().get(Segment, segment_id).filter))


@bp.post("/segments/evaluate")
def evaluate_filter() -> dict[str, Any]:
    """An unsaved filter (the body's "filter"), evaluated as a saved one would be."""
    body = json_object()
    return _evaluated(checked(body.get("filter")))
