"""Editing a workspace's stages: rename, reorder, add, relabel, delete.

Only admins edit the pipeline. Renaming a stage changes its stored label name; making
Gmail follow is the label sync's job, asked for at its next pass (`check_soon`).
"""

from __future__ import annotations

import unicodedata

from sqlalchemy import func

from inboxcrm.accounts.models import Mailbox, Member
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.errors import Conflict, Invalid
from inboxcrm.labels.mapping import check_soon
from inboxcrm.leads.models import Lead
from inboxcrm.stages.models import Stage, StageKind
from inboxcrm.stages.service import LABEL_PREFIX, list_stages
from inboxcrm.tenancy import Scope, unique_name

MAX_NAME = 60
MAX_LABEL = 225
# Gmail's own labels: a stage label cannot take one of these names.
SYSTEM_LABELS = frozenset(
    "inbox spam trash unread starred important sent draft chat category_personal "
    "category_social category_promotions category_updates category_forums".split()
)


CHANGE_STAGES = "change the pipeline's stages"  # what only admins may do here


def _clean(value: str, what: str, limit: int) -> str:
    text = " ".join(value.split())
    if not text:
        raise Invalid(f"the {what} cannot be empty", {what: "required"})
    if len(text) > limit:
        raise Invalid(f"the {what} is too long (at most {limit} characters)", {what: "too long"})
    if any(unicodedata.category(ch).startswith("C") for ch in text):
        raise Invalid(f"the {what} has control characters", {what: "invalid"})
    return text


def _clean_label(scope: Scope, label: str, stage: Stage | None) -> str | None:
    """A Gmail label name, or None for no label. Gmail compares names case-insensitively."""
    if not label.strip():
        return None
    text = _clean(label, "label", MAX_LABEL)
    parts = [p.strip() for p in text.split("/")]
    if any(not p for p in parts):
        raise Invalid(
            "a label name cannot have an empty part between slashes", {"label": "invalid"}
        )
    text = "/".join(parts)
    if text.lower() in SYSTEM_LABELS:
        raise Invalid(f"{text} is one of Gmail's own labels", {"label": "reserved"})
    for other in list_stages(scope):
        if other is not stage and other.label and other.label.lower() == text.lower():
            raise Conflict(
                f"stage {other.name} already uses the label {other.label}", {"label": "taken"}
            )
    return text


def default_label(name: str) -> str:
    return f"{LABEL_PREFIX}{name}"


def add_stage(
    scope: Scope, actor: Member, name: str, kind: StageKind, label: str | None = None
) -> Stage:
    """A new stage at the end of the pipeline, labelled `CRM/<name>` unless told otherwise."""
    require_admin(actor, CHANGE_STAGES)
    name = unique_name(scope, Stage, name, None, "stage", MAX_NAME)
    stages = list_stages(scope)
    stage = Stage(
        workspace_id=scope.workspace_id,
        name=name,
        kind=kind,
        position=(stages[-1].position + 1) if stages else 0,
        label=_clean_label(scope, default_label(name) if label is None else label, None),
    )
    scope.session.add(stage)
    scope.session.flush()
    check_soon(scope.session, Mailbox.workspace_id == scope.workspace_id)
    return stage


def rename_stage(scope: Scope, actor: Member, stage: Stage, name: str) -> None:
    """A stage still on its default label takes the new name's label along."""
    require_admin(actor, CHANGE_STAGES)
    name = unique_name(scope, Stage, name, stage, "stage", MAX_NAME)
    if stage.label is not None and stage.label == default_label(stage.name):
        stage.label = _clean_label(scope, default_label(name), stage)
    stage.name = name
    scope.session.flush()
    check_soon(scope.session, Mailbox.workspace_id == scope.workspace_id)


def set_label(scope: Scope, actor: Member, stage: Stage, label: str) -> None:
    """A blank label means the stage has no Gmail label."""
    require_admin(actor, CHANGE_STAGES)
    stage.label = _clean_label(scope, label, stage)
    scope.session.flush()
    check_soon(scope.session, Mailbox.workspace_id == scope.workspace_id)


def move_stage(scope: Scope, actor: Member, stage: Stage, offset: int) -> None:
    """Move a stage `offset` places along the pipeline (-1 earlier, +1 later)."""
    require_admin(actor, CHANGE_STAGES)
    stages = list_stages(scope)
    at = stages.index(stage)
    to = min(max(at + offset, 0), len(stages) - 1)
    stages.insert(to, stages.pop(at))
    for position, row in enumerate(stages):
        row.position = position
    scope.session.flush()


def leads_in(scope: Scope, stage: Stage) -> int:
    query = scope.select(Lead, Lead.stage_id == stage.id).with_only_columns(func.count(Lead.id))
    return scope.session.scalar(query) or 0


def delete_stage(scope: Scope, actor: Member, stage: Stage) -> None:
    """Refused while leads are in the stage: they are moved first, by someone who knows where."""
    require_admin(actor, CHANGE_STAGES)
    held = leads_in(scope, stage)
    if held:
        leads = f"{held} lead{'s' if held != 1 else ''}"
        raise Conflict(f"{stage.name} still holds {leads}. Move its {leads} first.")
    stages = list_stages(scope)
    if len(stages) == 1:
        raise Conflict("a pipeline needs at least one stage")
    scope.session.delete(stage)
    for position, row in enumerate(s for s in stages if s is not stage):
        row.position = position
    scope.session.flush()
    check_soon(scope.session, Mailbox.workspace_id == scope.workspace_id)
