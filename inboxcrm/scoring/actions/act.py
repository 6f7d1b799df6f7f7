"""The score actions, run where scores change (the sync's scoring step, the clock's
rescore, a workspace rescore), in the rescore's transaction:

- a lead whose score reaches the line while it is in the rule's stage moves to the
  rule's target stage, recorded as moved by the rule ("rule: Score ≥ 50"); its threads
  are relabelled as for any move. Only forward, never into or out of won or lost; a lead
  a rep moved back stays there until its score reaches the line again;
- a lead that turns hot: its owner is notified.

Both act on a change the rescore reports, and a rescore run twice reports none the
second time, so a replayed batch moves and notifies nothing more. So do the events for
the tools outside: `lead.temperature_changed`, and `score.crossed` when a score rises to
one of the workspace's temperature lines or the move rule's line (which ones it says)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy.orm import Session

from inboxcrm.events import EventType, emit_many
from inboxcrm.leads.models import Temperature
from inboxcrm.leads.moves import move_leads, want_relabel
from inboxcrm.leads.serialize import lead_refs
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from inboxcrm.scoring.actions.settings import CLOSED, Actions, load
from inboxcrm.scoring.rescore import Change, Rescored, rescore
from inboxcrm.scoring.settings import chosen
from inboxcrm.scoring.temperature import Thresholds
from inboxcrm.stages.models import ChangeSource, Stage
from inboxcrm.tenancy import Scope


def rescore_and_act(
    session: Session, workspace_id: int, lead_ids: Iterable[int], now: dt.datetime
) -> Rescored:
    """`rescore`, then the workspace's actions on what changed."""
    done = rescore(session, workspace_id, lead_ids, now)
    act(session, workspace_id, done.changes, now)
    return done


def act(session: Session, workspace_id: int, changes: Sequence[Change], now: dt.datetime) -> None:
    if not changes:
        return
    scope = Scope(session, workspace_id)
    actions = load(scope)
    _emit(session, workspace_id, actions, changes, now)
    _move(scope, actions, changes, now)
    if actions.notify_hot:
        hot = [
            Notice(c.lead_id, NoticeKind.hot, f"{{lead}} turned hot (score {c.score})",
                   f"hot:{c.lead_id}:{now.isoformat()}")
            for c in changes
            if c.temperature is Temperature.hot and c.temperature_before is not Temperature.hot
        ]  # fmt: skip
        notify(session, workspace_id, hot, now)


def _lines(actions: Actions, thresholds: Thresholds) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [
        {"line": "warm", "at": thresholds.warm},
        {"line": "hot", "at": thresholds.hot},
    ]
    if actions.move_on:
        lines.append({"line": "action", "at": actions.move_score, "rule": actions.rule_name()})
    return lines


def _emit(
    session: Session, workspace_id: int, actions: Actions, changes: Sequence[Change],
    now: dt.datetime,
) -> None:  # fmt: skip
    """The rescore's events, a multi-row INSERT per type however many leads changed."""
    lines = _lines(actions, chosen(session, workspace_id, None, None, None)[2])
    crossed = [
        (c, [line for line in lines if c.score_before < line["at"] <= c.score]) for c in changes
    ]
    crossed = [(c, reached) for c, reached in crossed if reached]
    turned = [c for c in changes if c.temperature is not c.temperature_before]
    if not crossed and not turned:
        return
    who = lead_refs(session, [c.lead_id for c, _ in crossed] + [c.lead_id for c in turned])

    def ref(lead_id: int) -> dict[str, Any]:
        return who.get(lead_id, {"id": lead_id})

    def name(t: Temperature | None) -> str | None:
        return t.value if t is not None else None

    emit_many(session, workspace_id, EventType.score_crossed, now, [
        (c.lead_id, {"lead": ref(c.lead_id), "score_before": c.score_before, "score": c.score,
                     "lines": reached})
        for c, reached in crossed
    ])  # fmt: skip
    emit_many(session, workspace_id, EventType.temperature_changed, now, [
        (c.lead_id, {"lead": ref(c.lead_id), "from": name(c.temperature_before),
                     "to": name(c.temperature), "score": c.score})
        for c in turned
    ])  # fmt: skip


def _move(scope: Scope, actions: Actions, changes: Sequence[Change], now: dt.datetime) -> None:
    if not actions.move_on or actions.move_from_id is None or actions.move_to_id is None:
        return
    line = actions.move_score
    reached = [c.lead_id for c in changes if c.score_before < line <= c.score]
    if not reached:
        return
    source = scope.find(Stage, actions.move_from_id)
    target = scope.find(Stage, actions.move_to_id)
    if source is None or target is None or target.position <= source.position:
        return  # the stages were reordered since: the rule would move leads backwards
    if source.kind in CLOSED or target.kind in CLOSED:
        return
    moved = move_leads(scope, reached, source, target, source=ChangeSource.rule, now=now,
                       detail=actions.rule_name())  # fmt: skip
    want_relabel(scope, moved, now)  # all at once: a workspace rescore moves thousands
    scope.session.flush()
