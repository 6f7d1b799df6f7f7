"""The notifications page, opening one (it is read, and its lead shows), marking all read,
and the unread count every page's top bar shows."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest
from inboxcrm.notifications.inbox import PER_PAGE, mark_all_read, mark_read, notices, unread_count
from inboxcrm.web import current_member, db_session, login_required, member, scope

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def unread() -> dict[str, Any]:
    # Once a request: a page renders its panels' templates too, each asking again.
    if "unread_notices" not in g:
        me = current_member()
        g.unread_notices = unread_count(scope(), me) if me else 0
    return {"unread_notices": g.unread_notices}


@bp.get("/notifications")
@login_required
def index() -> str:
    raw = request.args.get("before", "").strip()
    if raw and not raw.isdigit():
        raise BadRequest(f"before must be a whole number, got {raw!r}")
    page = notices(scope(), member(), before=int(raw) if raw else None)
    more = page[-1].id if len(page) == PER_PAGE else None
    return render_template("notifications/index.html", notices=page, more=more)


@bp.get("/notifications/<int:notice_id>")
@login_required
def open_notice(notice_id: int) -> Response:
    """Opening a notification reads it: it is marked read and its lead's page shows."""
    found = mark_read(scope(), member(), notice_id, utcnow())
    db_session().commit()
    if found.lead_id is None:  # about the workspace: a webhook disabled
        return redirect(url_for("webhooks.index"))
    return redirect(url_for("leads.show", lead_id=found.lead_id))


@bp.post("/notifications/read")
@login_required
def read_all() -> Response:
    mark_all_read(scope(), member(), utcnow())
    db_session().commit()
    return redirect(url_for("notifications.index"))
