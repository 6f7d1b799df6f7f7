from __future__ import annotations

import datetime as dt
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.events import Event, EventType
from inboxcrm.leads.moves import move_lead, move_leads
from inboxcrm.stages.models import ChangeSource, StageChange, StageKind
from inboxcrm.stages.service import entry_stage, list_stages
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, WorkspaceFactory

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)


def test_each_workspace_gets_the_default_pipeline(session: Session) -> None:
    workspace = WorkspaceFactory()
    stages = list_stages(Scope(session, workspace.id))
    assert [(s.name, s.kind, s.label) for s in stages] == [
        ("Lead", StageKind.open, None),
        ("MQL", StageKind.open, "CRM/MQL"),
        ("SAL", StageKind.open, "CRM/SAL"),
        ("SQL", StageKind.open, "CRM/SQL"),
        ("SQO", StageKind.open, "CRM/SQO"),
        ("Won", StageKind.won, "CRM/Won"),
        ("Lost", StageKind.lost, "CRM/Lost"),
        ("Nurture", StageKind.nurture, "CRM/Nurture"),
        ("Unqualified", StageKind.unqualified, "CRM/Unqualified"),
    ]
    assert entry_stage(Scope(session, workspace.id)).name == "Lead"
    # Another workspace has its own rows, not shared ones.
    other = list_stages(Scope(session, WorkspaceFactory().id))
    assert not {s.id for s in stages} & {s.id for s in other}


def test_a_move_is_recorded_once_with_its_source(session: Session) -> None:
    lead = LeadFactory()
    scope = Scope(session, lead.workspace_id)
    won = next(s for s in list_stages(scope) if s.kind is StageKind.won)
    change = move_lead(
        scope, lead, won, source=ChangeSource.label, now=NOW, detail="CRM/Won on a thread"
    )
    assert change is not None
    assert (change.from_stage_id, change.to_stage_id, change.source) == (
        entry_stage(scope).id,
        won.id,
        ChangeSource.label,
    )
    assert move_lead(scope, lead, won, source=ChangeSource.label, now=NOW) is None
    assert lead.stage is won


def test_many_leads_moved_at_once_are_recorded_as_one_by_one(session: Session) -> None:
    one = LeadFactory()
    scope = Scope(session, one.workspace_id)
    by_name = {s.name: s for s in list_stages(scope)}
    lost, elsewhere, *many = (LeadFactory(owner=one.owner) for _ in range(5))
    lost.stage_id, lost.lost_reason = by_name["Lost"].id, "price"
    elsewhere.stage_id = by_name["SQL"].id
    many[0].needs_review = True  # a rule's move leaves it unreviewed
    session.commit()
    move_lead(scope, one, by_name["MQL"], source=ChangeSource.rule, now=NOW, detail="rule: x")
    ids = [lead.id for lead in [*many, elsewhere]]
    moved = move_leads(scope, ids, by_name["Lead"], by_name["MQL"], source=ChangeSource.rule,
                       now=NOW, detail="rule: x")  # fmt: skip
    assert moved == [lead.id for lead in many]  # the lead in SQL stays
    assert [(lead.stage.name, lead.needs_review) for lead in many] == [
        ("MQL", True), ("MQL", False), ("MQL", False)]  # fmt: skip
    assert elsewhere.stage_id == by_name["SQL"].id
    changes = session.scalars(select(StageChange).order_by(StageChange.id)).all()
    assert {(c.from_stage_id, c.to_stage_id, c.source, c.detail, c.member_id, c.changed_at)
            for c in changes} == {(by_name["Lead"].id, by_name["MQL"].id, ChangeSource.rule,
                                   "rule: x", None, NOW)}  # fmt: skip
    assert [c.lead_id for c in changes] == [one.id, *moved]
    events = session.scalars(select(Event).where(Event.type == EventType.stage_changed)
                             .order_by(Event.id)).all()  # fmt: skip
    assert [e.lead_id for e in events] == [one.id, *moved]
    assert {json.dumps({**e.data, "lead": None}, sort_keys=True) for e in events} == {
        json.dumps({**events[0].data, "lead": None}, sort_keys=True)
    }
    assert events[1].data["lead"] == {"id": many[0].id, "email": many[0].email,
                                      "name": many[0].name}  # fmt: skip
    # Out of lost: its reason goes, as with one move.
    move_leads(scope, [lost.id], by_name["Lost"], by_name["Nurture"], source=ChangeSource.member,
               now=NOW)  # fmt: skip
    assert (lost.stage.name, lost.lost_reason, lost.needs_review) == ("Nurture", None, False)
    assert move_leads(scope, [lost.id], by_name["Lost"], by_name["Nurture"],
                      source=ChangeSource.member, now=NOW) == []  # fmt: skip
