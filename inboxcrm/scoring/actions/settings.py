"""A workspace's action settings: the move rule (score line, from and to stage), whether
turning hot notifies, and how long a new inbound lead may wait for an answer. Without a
stored row, the defaults: score 50 moves a lead from the first open stage to the next
one (Lead to MQL in the default pipeline, found by kind and position, never by name)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.errors import Invalid
from inboxcrm.scoring.actions.models import ActionSettings
from inboxcrm.stages.models import Stage, StageKind
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope

CHANGE_ACTIONS = "change the score actions"
MAX_SCORE = 1000
WAIT_MINUTES = (5, 24 * 60)  # from 5 minutes to a day
CLOSED = (StageKind.won, StageKind.lost)  # a score never moves a lead into or out of these


@dataclass(frozen=True)
class Actions:
    move_on: bool = True
    move_score: int = 50
    move_from_id: int | None = None
    move_to_id: int | None = None
    notify_hot: bool = True
    notify_waiting: bool = True
    wait_minutes: int = 45

    @property
    def wait(self) -> dt.timedelta:
        return dt.timedelta(minutes=self.wait_minutes)

    def rule_name(self) -> str:
        """How the StageChange names the rule that moved a lead."""
        return f"rule: Score ≥ {self.move_score}"

    def as_json(self) -> dict[str, Any]:
        return {
            "move": {"on": self.move_on, "score": self.move_score,
                     "from_stage_id": self.move_from_id, "to_stage_id": self.move_to_id},
            "notify_hot": self.notify_hot,
            "waiting": {"on": self.notify_waiting, "minutes": self.wait_minutes},
        }  # fmt: skip


def default_move(stages: list[Stage]) -> tuple[int | None, int | None]:
    """The first open stage and the open stage after it (Lead and MQL by default)."""
    opens = [s.id for s in sorted(stages, key=lambda s: s.position) if s.kind is StageKind.open]
    return (opens[0], opens[1]) if len(opens) >= 2 else (None, None)


def stored(scope: Scope) -> ActionSettings | None:
    return scope.session.scalars(scope.select(ActionSettings)).first()


def load(scope: Scope) -> Actions:
    row = stored(scope)
    if row is None:
        return Actions(*(True, 50), *default_move(list_stages(scope)))
    return Actions(row.move_on, row.move_score, row.move_from_id, row.move_to_id,
                   row.notify_hot, row.notify_waiting, row.wait_minutes)  # fmt: skip


def _whole(value: Any, low: int, high: int, field: str, what: str, problems: dict[str, str]) -> int:
    if isinstance(value, bool):
        value = None
    if isinstance(value, str):
        value = value.strip()
        value = int(value) if value.lstrip("-").isdigit() else value
    if not isinstance(value, int) or not low <= value <= high:
        problems[field] = f"{what} is a whole number from {low:,} to {high:,}"
        return low
    return value


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "on", "true", "yes")
    return bool(value)


def check(scope: Scope, values: Mapping[str, Any]) -> Actions:
    """Settings from a form or a JSON body (flat names: move_on, move_score, move_from_id,
    move_to_id, notify_hot, notify_waiting, wait_minutes; a name left out keeps its
    value), or Invalid with a message per field."""
    current = load(scope)
    stages = {s.id: s for s in list_stages(scope)}
    problems: dict[str, str] = {}

    def get(name: str) -> Any:
        return values[name] if name in values else getattr(current, name)

    score = _whole(get("move_score"), 1, MAX_SCORE, "move_score", "the score", problems)
    minutes = _whole(get("wait_minutes"), *WAIT_MINUTES, "wait_minutes", "the wait", problems)
    ids: dict[str, Stage | None] = {}
    for name in ("move_from_id", "move_to_id"):
        raw = get(name)
        if raw in (None, ""):
            ids[name] = None
            continue
        text = str(raw).strip()
        stage = stages.get(int(text)) if text.isdigit() and not isinstance(raw, bool) else None
        if stage is None:
            problems[name] = "choose one of the workspace's stages"
        ids[name] = stage
    source, target = ids["move_from_id"], ids["move_to_id"]
    move_on = _flag(get("move_on"))
    if move_on and "move_from_id" not in problems and source is None:
        problems["move_from_id"] = "choose the stage the rule moves leads from"
    if move_on and "move_to_id" not in problems and target is None:
        problems["move_to_id"] = "choose the stage the rule moves leads to"
    if source is not None and source.kind in CLOSED:
        problems["move_from_id"] = f"{source.name} is {source.kind.value}: a score never reopens it"
    if target is not None and target.kind in CLOSED:
        problems["move_to_id"] = f"a score never marks a lead {target.kind.value}"
    elif source is not None and target is not None and target.position <= source.position:
        problems["move_to_id"] = f"the rule moves leads forward: choose a stage after {source.name}"
    if problems:
        raise Invalid("the score actions have values to fix", problems)
    return Actions(move_on, score, source.id if source else None, target.id if target else None,
                   _flag(get("notify_hot")), _flag(get("notify_waiting")), minutes)  # fmt: skip


def save(scope: Scope, member: Member, values: Mapping[str, Any], now: dt.datetime) -> Actions:
    """Admins only; checked as `check` does. Flushes."""
    require_admin(member, CHANGE_ACTIONS)
    actions = check(scope, values)
    row = stored(scope)
    if row is None:
        row = ActionSettings(workspace_id=scope.workspace_id)
        scope.session.add(row)
    row.move_on, row.move_score = actions.move_on, actions.move_score
    row.move_from_id, row.move_to_id = actions.move_from_id, actions.move_to_id
    row.notify_hot, row.notify_waiting = actions.notify_hot, actions.notify_waiting
    row.wait_minutes, row.updated_at, row.updated_by_id = actions.wait_minutes, now, member.id
    scope.session.flush()
    return actions
