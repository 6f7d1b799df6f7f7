"""/api/v1/notifications: the member's own notifications, newest first, and marking read."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest
from inboxcrm.notifications.inbox import PER_PAGE, mark_all_read, mark_read, notices, unread_count
from inboxcrm.notifications.models import Notification
from inboxcrm.web import db_session, member, scope

bp = Blueprint("notifications", __name__)  # under /api/v1


def notice_json(n: Notification) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind.value,
        "text": n.text,
        "lead_id": n.lead_id,
        "created_at": n.created_at.isoformat(),
        "read_at": n.read_at.isoformat() if n.read_at else None,
    }


@bp.get("/notifications")
def index() -> dict[str, Any]:
    """`unread=1` for the unread only; `before=<id>` for the page after `next_before`."""
    raw = (request.args.get("before") or "").strip()
    if raw and not raw.isdigit():
        raise BadRequest(f"before must be a whole number, got {raw!r}")
    unread = (request.args.get("unread") or "").lower() in ("1", "true", "yes")
    page = notices(scope(), member(), before=int(raw) if raw else None, unread=unread)
    return {
        "notifications": [notice_json(n) for n in page],
        "unread": unread_count(scope(), member()),
        "next_before": page[-1].id if len(page) == PER_PAGE else None,
    }


@bp.post("/notifications/<int:notice_id>/read")
def read_one(notice_id: int) -> dict[str, Any]:
    found = mark_read(scope(), member(), notice_id, utcnow())
    db_session().commit()
    return notice_json(found)


@bp.post("/notifications/read")
def read_all() -> dict[str, Any]:
    marked = mark_all_read(scope(), member(), utcnow())
    db_session().commit()
    return {"marked": marked, "unread": 0}
