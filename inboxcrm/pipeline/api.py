from __future__ import annotations

from typing import Any

from inboxcrm.api import bp
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
