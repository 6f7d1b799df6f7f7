"""The import pages (upload, mapping, dry run, progress, undo) and the leads export."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from inboxcrm.accounts.models import Role
from inboxcrm.db import utcnow
from inboxcrm.errors import DomainError, Invalid
from inboxcrm.exchange.csvfile import MAX_BYTES
from inboxcrm.exchange.exports import export_csv, segment_csv, streamed
from inboxcrm.exchange.imports import dry_run, samples, set_mapping, start, start_undo, upload
from inboxcrm.exchange.mapping import FIELDS
from inboxcrm.exchange.models import ImportState, LeadImport
from inboxcrm.leads.params import parse_filter
from inboxcrm.segments.models import Segment
from inboxcrm.web import db_session, login_required, member, scope

bp = Blueprint("exchange", __name__)

RUNNING = (ImportState.queued, ImportState.running, ImportState.undoing)


def progress_json(imp: LeadImport) -> dict[str, Any]:
    total = (
        imp.rows
        if imp.state is not ImportState.undoing
        else max(imp.done, imp.created + imp.updated + imp.merged)
    )
    return {
        "id": imp.id,
        "state": imp.state.value,
        "rows": imp.rows,
        "done": imp.done,
        "percent": min(100, round(100 * imp.done / total)) if total else 0,
        "created": imp.created,
        "updated": imp.updated,
        "merged": imp.merged,
        "refused": imp.refused,
        "running": imp.state in RUNNING,
        "text": f"{imp.state.value}: {imp.done:,} of {total:,} rows"
        if imp.state in RUNNING
        else imp.state.value,
    }


@bp.route("/leads/import", methods=["GET", "POST"])
@login_required
def index() -> str | BaseResponse | tuple[str, int]:
    s = scope()
    error = None
    if request.method == "POST":
        request.max_content_length = MAX_BYTES + 1024 * 1024  # the file; the app's limit is 2 MB
        file = request.files.get("file")
        try:
            if file is None or not file.filename:
                raise Invalid("choose a CSV file to import")
            imp = upload(s, member(), file.filename or "", file.read(MAX_BYTES + 1), utcnow())
            db_session().commit()
        except DomainError as exc:
            db_session().rollback()
            error = exc.message
        else:
            return redirect(url_for("exchange.show", import_id=imp.id))
    imports = list(
        s.session.scalars(s.select(LeadImport).order_by(LeadImport.created_at.desc()).limit(20))
    )
    html = render_template(
        "exchange/imports.html", imports=imports, error=error, admin=member().role is Role.admin
    )
    return (html, 422) if error else html


@bp.get("/leads/import/<int:import_id>")
@login_required
def show(import_id: int) -> str:
    imp = scope().get(LeadImport, import_id)
    return render_template(
        "exchange/import.html",
        imp=imp,
        fields=FIELDS,
        samples=samples(imp),
        progress=progress_json(imp),
        admin=member().role is Role.admin,
        running=RUNNING,
        refusals=imp.refusals[:500],
    )


@bp.get("/leads/import/<int:import_id>/progress")
@login_required
def progress(import_id: int) -> dict[str, Any]:
    return progress_json(scope().get(LeadImport, import_id))


@bp.post("/leads/import/<int:import_id>/mapping")
@login_required
def mapping(import_id: int) -> BaseResponse:
    imp = scope().get(LeadImport, import_id)
    fields = [request.form.get(f"column-{i}", "note") for i in range(len(imp.header))]
    try:
        set_mapping(imp, member(), fields)
        dry_run(scope(), imp, member())
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        flash(f"Nothing was changed: {exc.message}", "error")
    return redirect(url_for("exchange.show", import_id=import_id))


@bp.post("/leads/import/<int:import_id>/run")
@login_required
def run(import_id: int) -> BaseResponse:
    imp = scope().get(LeadImport, import_id)
    try:
        start(imp, member(), utcnow())
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        flash(exc.message, "error")
    else:
        flash("The import runs in the background: this page shows how far it has got.")
    return redirect(url_for("exchange.show", import_id=import_id))


@bp.post("/leads/import/<int:import_id>/undo")
@login_required
def undo(import_id: int) -> BaseResponse:
    imp = scope().get(LeadImport, import_id)
    try:
        start_undo(imp, member(), utcnow())
        db_session().commit()
    except DomainError as exc:
        db_session().rollback()
        flash(exc.message, "error")
    else:
        flash("Undoing the import: the leads it made go, the fields it changed come back.")
    return redirect(url_for("exchange.show", import_id=import_id))


@bp.get("/leads/export.csv")
@login_required
def export() -> Response:
    me = member()
    owner_default = "me" if me.role is Role.rep else "any"
    flt = parse_filter(request.args, me, owner_default=owner_default)
    name = f"leads-{utcnow():%Y-%m-%d}.csv"
    return Response(
        stream_with_context(streamed(scope(), export_csv(scope(), flt))),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/segments/<int:segment_id>/export.csv")
@login_required
def segment_export(segment_id: int) -> BaseResponse:
    s = scope()
    segment = s.get(Segment, segment_id)
    try:
        file = segment_csv(s, segment, utcnow())
    except Invalid as exc:  # a filter that no longer holds (a field since removed)
        flash(f"Not exported: {exc.message}", "error")
        return redirect(url_for("segments.show", segment_id=segment_id))
    name = f"segment-{segment.id}-{utcnow():%Y-%m-%d}.csv"
    return Response(
        stream_with_context(streamed(s, file)),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )
