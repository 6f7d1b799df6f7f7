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

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.db import chunks, driver_rows
from inboxcrm.events import EventType, emit_all
from inboxcrm.leads.models import Lead, Temperature
from inboxcrm.leads.moves import move_leads, want_relabel
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from inboxcrm.scoring.actions.settings import CLOSED, Actions, load
from inboxcrm.scoring.rescore import Change, Rescored, no_collection, rescore
from inboxcrm.scoring.settings import chosen
from inboxcrm.scoring.temperature import Thresholds
from inboxcrm.stages.models import ChangeSource, Stage
from inboxcrm.tenancy import Scope


def rescore_and_act(
    session: Session, workspace_id: int, lead_ids: Iterable[int], now: dt.datetime
) -> Rescored:
    """`rescore`, then the workspace's actions on what changed (the cycle collector paused
    for both: acting on a workspace rescore's thousands of changes, each collection would
    walk all that the rescore left)."""
    with no_collection():
        done = rescore(session, workspace_id, lead_ids, now)
        act(session, workspace_id, done.changes, now, done.thresholds)
    return done


def act(
    session: Session,
    workspace_id: int,
    changes: Sequence[Change],
    now: dt.datetime,
    thresholds: Thresholds | None = None,
) -> None:
    """The actions on the changes, by the temperature lines the rescore used (the
    workspace's, unless given). Nothing is read when no change reaches a line."""
    if not changes:
        return
    if thresholds is None:
        thresholds = chosen(session, workspace_id, None, None, None)[2]
    scope = Scope(session, workspace_id)
    actions = load(scope)
    lines = _lines(actions, thresholds)
    ats = sorted(line["at"] for line in lines)
    crossed = [  # a line in (before, now]: two halvings per change (a workspace has 100,000)
        (c, [line for line in lines if c.score_before < line["at"] <= c.score])
        for c in changes
        if bisect.bisect_right(ats, c.score_before) < bisect.bisect_right(ats, c.score)
    ]
    turned = [c for c in changes if c.temperature is not c.temperature_before]
    hot = [
        c for c in turned
        if c.temperature is Temperature.hot and c.temperature_before is not Temperature.hot
    ] if actions.notify_hot else []  # fmt: skip
    if not crossed and not turned:
        return  # no line reached: nothing to emit, move or notify
    who = _leads(
        session, workspace_id, [c.lead_id for c, _ in crossed] + [c.lead_id for c in turned]
    )
    _emit(session, workspace_id, crossed, turned, who, now)
    _move(scope, actions, changes, now)
    owners = {i: (ref["name"] or ref["email"], owner) for i, (ref, owner) in who.items()}
    notify(session, workspace_id, [
        Notice(c.lead_id, NoticeKind.hot, f"{{lead}} turned hot (score {c.score})",
               f"hot:{c.lead_id}:{now.isoformat()}")
        for c in hot
    ], now, known=owners)  # fmt: skip


def _leads(
    session: Session, workspace_id: int, lead_ids: Iterable[int]
) -> dict[int, tuple[dict[str, Any], int | None]]:
    """The leads' references for the events and their owners for the notices, read once
    (as the driver returns rows: a workspace rescore reads thousands)."""
    found: dict[int, tuple[dict[str, Any], int | None]] = {}
    for chunk in chunks(sorted(set(lead_ids))):
        rows = driver_rows(session,
            select(Lead.id, Lead.email, Lead.name, Lead.owner_id)
            .where(Lead.workspace_id == workspace_id, Lead.id.in_(chunk))
        )  # fmt: skip
        found.update((i, ({"id": i, "email": e, "name": n}, o)) for i, e, n, o in rows)
    return found


def _lines(actions: Actions, thresholds: Thresholds) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = [
        {"line": "warm", "at": thresholds.warm},
        {"line": "hot", "at": thresholds.hot},
    ]
    if actions.move_on:
        lines.append({"line": "action", "at": actions.move_score, "rule": actions.rule_name()})
    return lines


def _emit(
    session: Session,
    workspace_id: int,
    crossed: Sequence[tuple[Change, list[dict[str, Any]]]],
    turned: Sequence[Change],
    who: dict[int, tuple[dict[str, Any], int | None]],
    now: dt.datetime,
) -> None:
    """The rescore's events, one multi-row INSERT however many leads changed."""

    def ref(lead_id: int) -> dict[str, Any]:
        return who[lead_id][0] if lead_id in who else {"id": lead_id}

    def name(t: Temperature | None) -> str | None:
        return t.value if t is not None else None

    emit_all(session, workspace_id, now, [
        *((EventType.score_crossed, c.lead_id,
           {"lead": ref(c.lead_id), "score_before": c.score_before, "score": c.score,
            "lines": reached})
          for c, reached in crossed),
        *((EventType.temperature_changed, c.lead_id,
           {"lead": ref(c.lead_id), "from": name(c.temperature_before),
            "to": name(c.temperature), "score": c.score})
          for c in turned),
    ])  # fmt: skip


def _move(scope: Scope, actions: Actions, changes: Sequence[Change], now: dt.datetime) -> None:
    if not actions.move_on or actions.move_from_id is None or actions.move_to_id is None:
        return
    line = actions.move_score
    reached = [c.lead_id for c in changes if c.score_before < line <= c.score]
    if not reached:
        return
    stages = {  # both in one query
        s.id: s
        for s in scope.session.scalars(
            scope.select(Stage, Stage.id.in_([actions.move_from_id, actions.move_to_id]))
        )
    }
    source, target = stages.get(actions.move_from_id), stages.get(actions.move_to_id)
    if source is None or target is None or target.position <= source.position:
        return  # the stages were reordered since: the rule would move leads backwards
    if source.kind in CLOSED or target.kind in CLOSED:
        return
    moved = move_leads(scope, reached, source, target, source=ChangeSource.rule, now=now,
                       detail=actions.rule_name())  # fmt: skip
    want_relabel(scope, moved, now)  # all at once: a workspace rescore moves thousands
    scope.session.flush()
