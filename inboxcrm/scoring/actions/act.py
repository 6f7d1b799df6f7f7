"""The score actions, run where scores change (the sync's scoring step, the clock's
rescore, a workspace rescore), in the rescore's transaction:

- a lead whose score reaches the line while it is in the rule's stage moves to the
  rule's target stage, recorded as moved by the rule ("rule: Score ≥ 50"); its threads
  are relabelled as for any move. Only forward, never into or out of won or lost; a lead
  a rep moved back stays there until its score reaches the line again;
- a lead that turns hot: its owner is notified.

Both act on a change the rescore reports, and a rescore run twice reports none the
second time, so a replayed batch moves and notifies nothing more."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence

from sqlalchemy.orm import Session

from inboxcrm.db import chunks
from inboxcrm.leads.models import Lead, Temperature
from inboxcrm.leads.moves import move_lead, want_relabel
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from inboxcrm.scoring.actions.settings import CLOSED, Actions, load
from inboxcrm.scoring.rescore import Change, Rescored, rescore
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
    _move(scope, actions, changes, now)
    if actions.notify_hot:
        hot = [
            Notice(c.lead_id, NoticeKind.hot, f"{{lead}} turned hot (score {c.score})",
                   f"hot:{c.lead_id}:{now.isoformat()}")
            for c in changes
            if c.temperature is Temperature.hot and c.temperature_before is not Temperature.hot
        ]  # fmt: skip
        notify(session, workspace_id, hot, now)


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
    moved: list[int] = []
    for chunk in chunks(reached):
        leads = scope.session.scalars(
            scope.select(Lead, Lead.id.in_(chunk), Lead.stage_id == source.id)
        ).unique()
        for lead in leads:
            if move_lead(scope, lead, target, source=ChangeSource.rule, now=now,
                         detail=actions.rule_name(), relabel=False):  # fmt: skip
                moved.append(lead.id)
    want_relabel(scope, moved, now)  # all at once: a workspace rescore moves thousands
    scope.session.flush()
