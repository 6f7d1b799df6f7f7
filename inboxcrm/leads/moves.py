"""Moving a lead between stages, recorded as a StageChange."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inboxcrm.db import chunks, driver_insert, driver_value, utcnow
from inboxcrm.events import EventType, emit, emit_many
from inboxcrm.leads.capture.bulk import core_table
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


def move_leads(
    scope: Scope,
    lead_ids: Sequence[int],
    source_stage: Stage,
    stage: Stage,
    *,
    source: ChangeSource,
    now: dt.datetime,
    detail: str = "",
) -> list[int]:
    """`move_lead` for those of the leads still in `source_stage`, set-based (a workspace
    rescore moves thousands): the same StageChange rows, events and fields, a few
    statements per chunk of leads. Their threads are the caller's to relabel
    (`want_relabel`). Returns the ids moved."""
    if source_stage.id == stage.id:
        return []
    session, workspace_id = scope.session, scope.workspace_id
    table = core_table(Lead)
    values: dict[str, object] = {"stage_id": stage.id, "updated_at": utcnow()}
    if source is not ChangeSource.rule:
        values["needs_review"] = False
    if stage.kind is not StageKind.lost:
        values["lost_reason"] = None
    was = {"id": source_stage.id, "name": source_stage.name, "kind": source_stage.kind.value}
    to = {"id": stage.id, "name": stage.name, "kind": stage.kind.value}
    moved: list[int] = []
    changes = core_table(StageChange)
    at = driver_value(session, changes.c.changed_at)(now)
    by = driver_value(session, changes.c.source)(source)
    for chunk in chunks(lead_ids):
        found = session.execute(
            select(Lead.id, Lead.email, Lead.name)
            .where(Lead.workspace_id == workspace_id, Lead.id.in_(chunk),
                   Lead.stage_id == source_stage.id)
            .order_by(Lead.id)
        ).tuples().all()  # fmt: skip
        if not found:
            continue
        ids = [lead_id for lead_id, _, _ in found]
        session.execute(update(table).where(table.c.id.in_(ids)).values(values))
        driver_insert(session, changes, _CHANGE_COLUMNS, [
            (workspace_id, lead_id, source_stage.id, stage.id, at, by, None, detail)
            for lead_id in ids
        ])  # fmt: skip
        emit_many(session, workspace_id, EventType.stage_changed, now, [
            (lead_id, {"lead": {"id": lead_id, "email": email, "name": name}, "from": was,
                       "to": to, "source": source.value, "member_id": None})
            for lead_id, email, name in found
        ])  # fmt: skip
        moved += ids
    _expire(session, moved, list(values))
    return moved


_CHANGE_COLUMNS = ("workspace_id", "lead_id", "from_stage_id", "to_stage_id", "changed_at",
                   "source", "member_id", "detail")  # fmt: skip


def _expire(session: Session, lead_ids: Sequence[int], fields: list[str]) -> None:
    """Lead objects the session loaded read the values written past them."""
    for lead_id in lead_ids:
        loaded = session.identity_map.get(Session.identity_key(Lead, lead_id))
        if loaded is not None:
            session.expire(loaded, [*fields, "stage"])


def want_relabel(scope: Scope, lead_ids: Sequence[int], now: dt.datetime) -> None:
    """Queue the threads where the leads are primary, in every mailbox, for relabelling."""
    for chunk in chunks(lead_ids):
        queue_relabel(
            scope.session,
            now,
            Thread.workspace_id == scope.workspace_id,
            Thread.primary_lead_id.in_(chunk),
        )
