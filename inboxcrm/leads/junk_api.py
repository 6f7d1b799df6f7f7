"""API for junk control: the blocklist, and "Not a lead"."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, request
from werkzeug.wrappers import Response

from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import Invalid
from inboxcrm.leads.blocklist import display_pattern, list_blocks
from inboxcrm.leads.junk import Junked, block, not_a_lead, parse_block, unblock
from inboxcrm.leads.models import BlockedAddress
from inboxcrm.web import db_session, member, scope

bp = Blueprint("junk", __name__)  # "Not a lead" and the blocklist, under /api/v1


def block_json(row: BlockedAddress) -> dict[str, Any]:
    return {
        "id": row.id,
        "pattern": row.pattern,
        "display": display_pattern(row.pattern),
        "kind": "domain" if row.pattern.startswith("@") else "address",
        "created_by_id": row.created_by_id,
        "created_at": row.created_at.isoformat(),
    }


def junked_json(junked: Junked) -> dict[str, Any]:
    return {
        "removed": junked.removed,
        "blocked": junked.blocked,
        "kept": [{"id": lead.id, "email": lead.email} for lead in junked.kept],
    }


@bp.get("/blocklist")
def blocklist() -> dict[str, Any]:
    return {"blocklist": [block_json(row) for row in list_blocks(scope())]}


@bp.post("/blocklist")
def add_block() -> tuple[dict[str, Any], int]:
    body = json_object()
    pattern = body.get("pattern")
    if not isinstance(pattern, str):
        raise Invalid("send the address or @domain to block", {"pattern": "required text"})
    row, junked = block(scope(), pattern, member(), utcnow())
    db_session().commit()
    # 200 when it was blocked already: adding twice is harmless and changes nothing.
    return {**block_json(row), "cleanup": junked_json(junked)}, 201 if junked.blocked else 200


@bp.delete("/blocklist/<int:block_id>")
def remove_block(block_id: int) -> tuple[str, int]:
    unblock(scope(), block_id, member())
    db_session().commit()
    return "", 204


@bp.post("/leads/<int:lead_id>/not-a-lead")
def lead_not_a_lead(lead_id: int) -> dict[str, Any] | Response:
    body = json_object() if request.get_data() else {}
    raw = body.get("block")
    if raw is not None and not isinstance(raw, str):
        raise Invalid("block must be 'address', 'domain' or null", {"block": "not text"})
    junked = not_a_lead(scope(), [lead_id], member(), parse_block(raw), utcnow())
    db_session().commit()
    return junked_json(junked)
