from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from inboxcrm.leads.moves import move_lead
from inboxcrm.stages.models import ChangeSource, StageKind
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
