"""Stages and moving leads between them."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlalchemy.orm import Session

from inboxcrm.mailbox.models import Thread
from inboxcrm.pipeline.models import ChangeSource, Stage, StageChange, StageKind
from inboxcrm.tenancy import Scope

if TYPE_CHECKING:
    from inboxcrm.leads.models import Lead

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


def move_lead(
    scope: Scope,
    lead: Lead,
    stage: Stage,
    *,
    source: ChangeSource,
    now: dt.datetime,
    member_id: int | None = None,
    detail: str = "",
) -> StageChange | None:
    """Put a lead in a stage and record it; moving to the stage it is in records nothing.

    Unless a Gmail label moved it, its threads are queued to be relabelled (committed
    with the move, done by the clock's relabel job)."""
    if lead.stage_id == stage.id:
        return None
    change = StageChange(
        workspace_id=scope.workspace_id,
        lead_id=lead.id,
        from_stage_id=lead.stage_id,
        to_stage_id=stage.id,
        changed_at=now,
        source=source,
        member_id=member_id,
        detail=detail,
    )
    lead.stage_id = stage.id
    lead.stage = stage
    if source is not ChangeSource.rule:  # a person moved it: it is no longer unreviewed
        lead.needs_review = False
    if stage.kind is not StageKind.lost:
        lead.lost_reason = None
    scope.session.add(change)
    if source is not ChangeSource.label:
        want_relabel(scope, lead.id, now)
    return change


def want_relabel(scope: Scope, lead_id: int, now: dt.datetime) -> None:
    """Queue the threads where the lead is primary, in every mailbox, for relabelling."""
    scope.session.execute(
        update(Thread)
        .where(Thread.workspace_id == scope.workspace_id, Thread.primary_lead_id == lead_id)
        .values(relabel_at=now),
        execution_options={"synchronize_session": False},
    )
