from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from inboxcrm.leads.history import stage_history
from inboxcrm.stages.models import ChangeSource
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, StageChangeFactory
from tests.support.stages import T0, stages


def test_history_says_who_or_what_moved_the_lead(session: Session) -> None:
    rep = MemberFactory(name="Rita Rep")
    named = stages(session, rep)
    lead = LeadFactory(owner=rep, at=T0)
    StageChangeFactory(lead=lead, stage=named["MQL"], at=T0 + dt.timedelta(hours=1), by=rep)
    StageChangeFactory(
        lead=lead, stage=named["SQL"], at=T0 + dt.timedelta(hours=2)
    )  # a Gmail label
    StageChangeFactory(
        lead=lead,
        stage=named["Nurture"],
        at=T0 + dt.timedelta(hours=3),
        source=ChangeSource.rule,
        detail="no reply in 30 days",
    )
    stranger = MemberFactory()

    entries = stage_history(Scope(session, rep.workspace_id), lead.id)

    assert [(e.from_name, e.to_name, e.by, e.detail) for e in entries] == [
        ("SQL", "Nurture", "rule", "no reply in 30 days"),
        ("MQL", "SQL", "Gmail label", "rep@team.example"),
        ("Lead", "MQL", "Rita Rep", ""),
    ]
    assert entries[-1].changed_at == T0 + dt.timedelta(hours=1)
    assert stage_history(Scope(session, stranger.workspace_id), lead.id) == []


def test_history_survives_a_departed_member_and_a_deleted_stage(session: Session) -> None:
    rep = MemberFactory(name="Gone Soon")
    keeper = MemberFactory(workspace=rep.workspace)
    named = stages(session, rep)
    lead = LeadFactory(owner=keeper, at=T0)
    StageChangeFactory(lead=lead, stage=named["SAL"], at=T0, by=rep)
    StageChangeFactory(lead=lead, stage=named["MQL"], at=T0 + dt.timedelta(hours=1), by=keeper)
    session.delete(rep)
    session.delete(named["SAL"])
    session.commit()
    session.expire_all()
    entries = stage_history(Scope(session, keeper.workspace_id), lead.id)
    assert [(e.from_name, e.to_name, e.by) for e in entries] == [
        ("—", "MQL", keeper.name),
        ("Lead", "—", "a former member"),
    ]
