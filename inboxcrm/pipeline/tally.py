"""The board's figures from the running tally (`StageTally`), and its folding on the clock.

A board filtered by nothing but its owner reads its figures here: a few rows a stage,
whatever the number of leads, where adding up the leads themselves reads every one of
them (100,000 index entries for a manager's board of a large team). Other filters
(temperature, tag, search) add up the leads they select."""

from __future__ import annotations

import datetime as dt
import decimal
from collections import defaultdict

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from inboxcrm.leads.service import LeadFilter
from inboxcrm.pipeline.models import StageTally
from inboxcrm.runtime import Runtime
from inboxcrm.tenancy import Scope

Figures = dict[int, tuple[int, dict[str, decimal.Decimal]]]
FOLD_AFTER = 200  # a workspace's rows past which the clock folds them


def tallied(scope: Scope, flt: LeadFilter) -> Figures | None:
    """Per stage id: how many leads and their deal value per currency, from the tally;
    None for a filter the tally does not keep (temperature, tag, search)."""
    if flt.q.strip() or flt.tag or flt.temperature is not None:
        return None
    t = StageTally
    query = (
        select(t.stage_id, t.currency, func.sum(t.leads), func.sum(t.valued), func.sum(t.value))
        .where(t.workspace_id == scope.workspace_id)
        .group_by(t.stage_id, t.currency)
    )
    if flt.unowned:
        query = query.where(t.owner_id.is_(None))
    elif flt.owner_id is not None:
        query = query.where(t.owner_id == flt.owner_id)
    figures: Figures = {}
    for stage_id, currency, leads, valued, value in scope.session.execute(query):
        if not leads:
            continue  # every lead of it gone since
        seen, totals = figures.get(stage_id, (0, {}))
        if valued:
            totals[currency] = decimal.Decimal(value)
        figures[stage_id] = (seen + leads, totals)
    return figures


def fold(session: Session, workspace_id: int) -> int:
    """A workspace's tally rows replaced by one a group, their sums; groups that add up to
    nothing are dropped. Exactly the rows deleted are added up (DELETE … RETURNING): a
    row another transaction adds meanwhile is left for the next fold. Returns the rows
    folded."""
    t = StageTally
    gone = session.execute(
        delete(t)
        .where(t.workspace_id == workspace_id)
        .returning(t.stage_id, t.owner_id, t.currency, t.leads, t.valued, t.value)
    ).all()
    sums: dict[tuple[int, int | None, str], list[decimal.Decimal | int]] = defaultdict(
        lambda: [0, 0, decimal.Decimal(0)]
    )
    for stage_id, owner_id, currency, leads, valued, value in gone:
        group = sums[(stage_id, owner_id, currency)]
        group[0] += leads
        group[1] += valued
        group[2] += value or 0
    rows = [
        {"workspace_id": workspace_id, "stage_id": stage_id, "owner_id": owner_id,
         "currency": currency, "leads": leads, "valued": valued,
         "value": value if valued else None}
        for (stage_id, owner_id, currency), (leads, valued, value) in sums.items()
        if leads or valued
    ]  # fmt: skip
    if rows:
        session.execute(insert(t), rows)
    return len(gone)


def fold_due(runtime: Runtime, now: dt.datetime) -> int:
    """The clock's tick: each workspace with more than FOLD_AFTER tally rows folded, a
    transaction each. Returns the rows folded."""
    folded = 0
    with runtime.database.session() as session:
        due = list(
            session.scalars(
                select(StageTally.workspace_id)
                .group_by(StageTally.workspace_id)
                .having(func.count() > FOLD_AFTER)
            )
        )
    for workspace_id in due:
        with runtime.database.session() as session:
            folded += fold(session, workspace_id)
    return folded
