"""A workspace's stages: the default pipeline, listing, the entry stage."""

from __future__ import annotations

from sqlalchemy.orm import Session

from inboxcrm.stages.models import Stage, StageKind
from inboxcrm.tenancy import Scope

LABEL_PREFIX = "CRM/"

# Lead-generation practice: the entry stage, qualification steps, outcomes, and two holding stages.
DEFAULT_STAGES: tuple[tuple[str, StageKind], ...] = (
    ("Lead", StageKind.open),
    ("MQL", StageKind.open),
    ("SAL", StageKind.open),
    ("SQL", StageKind.open),
    ("SQO", StageKind.open),
    ("Won", StageKind.won),
    ("Lost", StageKind.lost),
    ("Nurture", StageKind.nurture),
    ("Unqualified", StageKind.unqualified),
)


def create_default_stages(session: Session, workspace_id: int) -> list[Stage]:
    stages = [
        Stage(
            workspace_id=workspace_id,
            name=name,
            kind=kind,
            position=position,
            label=None if position == 0 else f"{LABEL_PREFIX}{name}",
        )
        for position, (name, kind) in enumerate(DEFAULT_STAGES)
    ]
    session.add_all(stages)
    session.flush()
    return stages


def list_stages(scope: Scope) -> list[Stage]:
    return list(scope.session.scalars(scope.select(Stage).order_by(Stage.position)))


def entry_stage(scope: Scope) -> Stage:
    """Where new leads start: the first stage in pipeline order."""
    stage = scope.session.scalars(scope.select(Stage).order_by(Stage.position).limit(1)).first()
    if stage is None:
        raise LookupError(f"workspace {scope.workspace_id} has no stages")
    return stage
