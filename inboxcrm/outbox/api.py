"""The suppressions of a lead under /api/v1: read them, add a "Do not email", lift one."""

from __future__ import annotations

from typing import Any

from flask import Blueprint

from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import Invalid
from inboxcrm.leads.blocklist import display_pattern
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.models import Suppression
from inboxcrm.outbox.suppression import describe, do_not_email, lead_suppressions, lift
from inboxcrm.web import db_session, member, scope

bp = Blueprint("outbox", __name__)


def suppression_json(row: Suppression) -> dict[str, Any]:
    return {
        "id": row.id,
        "pattern": display_pattern(row.pattern),
        "reason": row.reason.value,
        "source": row.source,
        "why": describe(row),
        "suppressed_at": row.suppressed_at.isoformat(),
        "message_id": row.message_id,
        "send": row.send_ref,
        "liftable": row.reason.value == "manual",
    }


@bp.get("/leads/<int:lead_id>/suppressions")
def suppressions(lead_id: int) -> dict[str, Any]:
    lead = scope().get(Lead, lead_id)
    found = lead_suppressions(db_session(), lead)
    return {"suppressed": {a: suppression_json(r) for a, r in sorted(found.items())}}


@bp.post("/leads/<int:lead_id>/suppressions")
def add(lead_id: int) -> tuple[dict[str, Any], int]:
    lead = scope().get(Lead, lead_id)
    body = json_object()
    address = body.get("address")
    if address is not None and not isinstance(address, str):
        raise Invalid("address must be a string", {"address": "not a string"})
    row = do_not_email(scope(), member(), lead, address, utcnow())
    db_session().commit()
    return suppression_json(row), 201


@bp.delete("/leads/<int:lead_id>/suppressions/<int:suppression_id>")
def remove(lead_id: int, suppression_id: int) -> tuple[str, int]:
    lead = scope().get(Lead, lead_id)
    lift(scope(), member(), lead, suppression_id)
    db_session().commit()
    return "", 204
