from __future__ import annotations

from typing import Any

from flask import Blueprint, request

from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import Invalid
from inboxcrm.pipeline import settings as editing
from inboxcrm.pipeline.funnel import funnel, parse_owner, parse_period
from inboxcrm.stages.models import Stage, StageKind
from inboxcrm.stages.service import list_stages
from inboxcrm.web import db_session, member, scope

bp = Blueprint("pipeline", __name__)  # stages and the funnel, under /api/v1


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


def _text(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is not None and not isinstance(value, str):
        raise Invalid(f"{name} must be a string", {name: "not a string"})
    return value


@bp.post("/stages")
def add_stage() -> tuple[dict[str, Any], int]:
    """`{"name": ..., "kind": "open", "label": optional}`; admins only."""
    body = json_object()
    kind = body.get("kind")
    if not isinstance(kind, str) or kind not in StageKind.__members__:
        raise Invalid(f"kind must be one of {', '.join(StageKind)}", {"kind": "unknown"})
    stage = editing.add_stage(
        scope(), member(), _text(body, "name") or "", StageKind(kind), _text(body, "label")
    )
    db_session().commit()
    return stage_json(stage), 201


@bp.patch("/stages/<int:stage_id>")
def edit_stage(stage_id: int) -> dict[str, Any]:
    """Any of `name`, `label` (null or "" for none) and `position` (0 is first)."""
    body = json_object()
    s = scope()
    stage = s.get(Stage, stage_id)
    if "name" in body:
        editing.rename_stage(s, member(), stage, _text(body, "name") or "")
    if "label" in body:
        editing.set_label(s, member(), stage, _text(body, "label") or "")
    if "position" in body:
        position = body["position"]
        if not isinstance(position, int) or isinstance(position, bool):
            raise Invalid("position must be a whole number", {"position": "not a number"})
        editing.move_stage(s, member(), stage, position - stage.position)
    db_session().commit()
    return stage_json(stage)


@bp.delete("/stages/<int:stage_id>")
def delete_stage(stage_id: int) -> tuple[str, int]:
    s = scope()
    editing.delete_stage(s, member(), s.get(Stage, stage_id))
    db_session().commit()
    return "", 204
