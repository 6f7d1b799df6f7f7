"""Imports and exports under /api/v1: the same steps as the pages (upload, mapping, dry
run, run, status, undo), the leads CSV and a segment's, with the API's JSON errors."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request, stream_with_context, url_for

from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest
from inboxcrm.exchange.csvfile import MAX_BYTES
from inboxcrm.exchange.exports import export_csv, segment_csv, streamed
from inboxcrm.exchange.imports import dry_run, set_mapping, start, start_undo, upload
from inboxcrm.exchange.models import LeadImport
from inboxcrm.exchange.views import progress_json
from inboxcrm.leads.params import parse_filter
from inboxcrm.segments.models import Segment
from inboxcrm.web import db_session, member, scope

bp = Blueprint("exchange", __name__)


def import_json(imp: LeadImport, *, refusals: bool = False) -> dict[str, Any]:
    shown = {
        **progress_json(imp),
        "filename": imp.filename,
        "header": imp.header,
        "mapping": imp.mapping,
        "created_at": imp.created_at.isoformat(),
    }
    if refusals:
        shown["refusals"] = imp.refusals[:1000]
    return shown


@bp.post("/imports")
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    """The file as multipart (`file`) or as the body itself (Content-Type: text/csv)."""
    request.max_content_length = MAX_BYTES + 1024 * 1024
    file = request.files.get("file")
    if file is not None:
        name, data = file.filename or "leads.csv", file.read(MAX_BYTES + 1)
    elif request.mimetype in ("text/csv", "text/plain", "application/octet-stream"):
        name, data = request.args.get("filename", "leads.csv"), request.get_data()
    else:
        raise BadRequest("send the CSV as multipart/form-data (field `file`) or as a text/csv body")
    imp = upload(scope(), member(), name, data, utcnow())
    db_session().commit()
    return import_json(imp), 201, {"Location": url_for("api.exchange.status", import_id=imp.id)}


@bp.get("/imports/<int:import_id>")
def status(import_id: int) -> dict[str, Any]:
    return import_json(scope().get(LeadImport, import_id), refusals=True)


@bp.post("/imports/<int:import_id>/dry-run")
def plan(import_id: int) -> dict[str, Any]:
    """Dry run, with the mapping in the body (`{"mapping": [...]}`) or the current one."""
    imp = scope().get(LeadImport, import_id)
    body = json_object() if request.get_data() else {}
    if "mapping" in body:
        fields = body["mapping"]
        if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
            raise BadRequest("mapping must be a list of field names, one per column")
        set_mapping(imp, member(), fields)
    dry_run(scope(), imp, member())
    db_session().commit()
    return import_json(imp, refusals=True)


@bp.post("/imports/<int:import_id>/run")
def run(import_id: int) -> tuple[dict[str, Any], int]:
    imp = scope().get(LeadImport, import_id)
    start(imp, member(), utcnow())
    db_session().commit()
    return import_json(imp), 202


@bp.post("/imports/<int:import_id>/undo")
def undo(import_id: int) -> tuple[dict[str, Any], int]:
    imp = scope().get(LeadImport, import_id)
    start_undo(imp, member(), utcnow())
    db_session().commit()
    return import_json(imp), 202


@bp.get("/exports/leads.csv")
def export() -> Response:
    flt = parse_filter(request.args, member())
    return Response(
        stream_with_context(streamed(scope(), export_csv(scope(), flt))),
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="leads.csv"'},
    )


@bp.get("/segments/<int:segment_id>/export.csv")
def segment_export(segment_id: int) -> Response:
    """A segment's leads as CSV; 422 when its filter no longer holds."""
    s = scope()
    segment = s.get(Segment, segment_id)
    file = segment_csv(s, segment, utcnow())
    return Response(
        stream_with_context(streamed(s, file)),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="segment-{segment.id}.csv"'},
    )
