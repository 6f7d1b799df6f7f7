from __future__ import annotations

from typing import Any

from flask import request

from inboxcrm.api import bp
from inboxcrm.db import utcnow
from inboxcrm.pipeline.funnel import funnel, parse_owner, parse_period
from inboxcrm.pipeline.models import Stage
from inboxcrm.pipeline.service import list_stages
from inboxcrm.web import scope


def stage_json(stage: Stage) -> dict[str, Any]:
    return {
        "id": stage.id,
        "name": stage.name,
        "kind": stage.kind.value,
        "position": stage.position,
        "label": stage.label,
    }


@bp.get("/stages")
def stages() -> dict[str, Any]:
    return {"stages": [stage_json(s) for s in list_stages(scope())]}


@bp.get("/reports/funnel")
def funnel_report() -> dict[str, Any]:
    """`from`/`to` are days (both included, the last 30 by default); `owner` a member id."""
    s = scope()
    start, end = parse_period(request.args, utcnow().date())
    owner_id = parse_owner(s, request.args)
    return funnel(s, start, end, owner_id=owner_id).as_json()
