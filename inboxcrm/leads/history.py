"""A lead's stage history as a page shows it: when, from, to, and who or what moved it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from inboxcrm.accounts.models import Member
from inboxcrm.stages.models import ChangeSource, StageChange
from inboxcrm.tenancy import Scope

SOURCE_NAMES = {
    ChangeSource.label: "Gmail label",
    ChangeSource.rule: "rule",
    ChangeSource.api: "API",
    ChangeSource.import_: "import",
}


@dataclass(frozen=True)
class HistoryEntry:
    changed_at: dt.datetime
    from_name: str  # "—" when there was no stage before, or the stage was deleted
    to_name: str
    by: str  # a member's name, or "Gmail label", "rule", "API", "import"
    source: ChangeSource
    detail: str


def moved_by(change: StageChange, members: dict[int, Member]) -> str:
    if change.source is ChangeSource.member:
        who = members.get(change.member_id) if change.member_id else None
        return (who.name or who.email) if who else "a former member"
    return SOURCE_NAMES.get(change.source, change.source.value)


def stage_history(scope: Scope, lead_id: int) -> list[HistoryEntry]:
    """Newest first; the members named are loaded in one query."""
    changes = list(
        scope.session.scalars(
            scope.select(StageChange, StageChange.lead_id == lead_id).order_by(
                StageChange.changed_at.desc(), StageChange.id.desc()
            )
        )
    )
    ids = {c.member_id for c in changes if c.member_id is not None}
    members = (
        {m.id: m for m in scope.session.scalars(scope.select(Member, Member.id.in_(ids)))}
        if ids
        else {}
    )
    return [
        HistoryEntry(
            changed_at=c.changed_at,
            from_name=c.from_stage.name if c.from_stage else "—",
            to_name=c.to_stage.name if c.to_stage else "—",
            by=moved_by(c, members),
            source=c.source,
            detail=c.detail,
        )
        for c in changes
    ]
