"""Moving a lead between stages, recorded as a StageChange."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from inboxcrm.db import chunks
from inboxcrm.events import EventType, emit
from inboxcrm.leads.models import Lead
from inboxcrm.leads.serialize import lead_ref
from inboxcrm.mail.models import Thread
from inboxcrm.mail.store import queue_relabel
from inboxcrm.stages.models import ChangeSource, Stage, StageChange, StageKind
from inboxcrm.tenancy import Scope


def move_lead(
    scope: Scope,
    lead: Lead,
    stage: Stage,
    *,
    source: ChangeSource,
    now: dt.datetime,
    member_id: int | None = None,
    detail: str = "",
    relabel: bool = True,
) -> StageChange | None:
    """Put a lead in a stage and record it; moving to the stage it is in records nothing.

    Unless a Gmail label moved it, its threads are queued to be relabelled (committed
    with the move, done by the clock's relabel job); `relabel=False` leaves that to a
    caller moving many leads, who queues them all at once (`want_relabel`)."""
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
    before = lead.stage
    emit(scope.session, scope.workspace_id, EventType.stage_changed, now, {
        "lead": lead_ref(lead),
        "from": {"id": before.id, "name": before.name, "kind": before.kind.value},
        "to": {"id": stage.id, "name": stage.name, "kind": stage.kind.value},
        "source": source.value, "member_id": member_id,
    }, lead.id)  # fmt: skip
    lead.stage_id = stage.id
    lead.stage = stage
    if source is not ChangeSource.rule:  # a person moved it: it is no longer unreviewed
        lead.needs_review = False
    if stage.kind is not StageKind.lost:
        lead.lost_reason = None
    scope.session.add(change)
    if source is not ChangeSource.label and relabel:
        want_relabel(scope, [lead.id], now)
    return change


def want_relabel(scope: Scope, lead_ids: Sequence[int], now: dt.datetime) -> None:
    """Queue the threads where the leads are primary, in every mailbox, for relabelling."""
    for chunk in chunks(lead_ids):
        queue_relabel(
            scope.session,
            now,
            Thread.workspace_id == scope.workspace_id,
            Thread.primary_lead_id.in_(chunk),
        )
