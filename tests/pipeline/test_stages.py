from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.errors import Conflict, Forbidden, Invalid
from inboxcrm.pipeline import settings as editing
from inboxcrm.stages.models import StageKind
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory
from tests.support.stages import stages
from tests.support.web import csrf_token, sign_in


def order(session: Session, workspace_id: int) -> list[str]:
    return [s.name for s in list_stages(Scope(session, workspace_id))]


def test_rename_carries_a_default_label_along(session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    s = Scope(session, admin.workspace_id)
    named = stages(session, admin)
    editing.rename_stage(s, admin, named["SQL"], "  Sales   qualified ")
    assert (named["SQL"].name, named["SQL"].label) == ("Sales qualified", "CRM/Sales qualified")
    editing.set_label(s, admin, named["MQL"], "Pipeline / Marketing")
    editing.rename_stage(s, admin, named["MQL"], "Marketing qualified")
    assert named["MQL"].label == "Pipeline/Marketing"  # a label chosen by hand stays
    editing.rename_stage(s, admin, named["Lead"], "New")
    assert named["Lead"].label is None  # the entry stage has no label
    editing.set_label(s, admin, named["Won"], "  ")
    assert named["Won"].label is None


def test_bad_names_and_labels_are_refused(session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    s = Scope(session, admin.workspace_id)
    named = stages(session, admin)
    with pytest.raises(Invalid, match="cannot be empty"):
        editing.rename_stage(s, admin, named["SQL"], " ")
    with pytest.raises(Conflict, match="already a stage called MQL"):
        editing.rename_stage(s, admin, named["SQL"], "mql")
    with pytest.raises(Invalid, match="too long"):
        editing.rename_stage(s, admin, named["SQL"], "x" * 61)
    with pytest.raises(Invalid, match="control characters"):
        editing.rename_stage(s, admin, named["SQL"], "S\u202eQL")
    with pytest.raises(Conflict, match="MQL already uses the label"):
        editing.set_label(s, admin, named["SQL"], "crm/mql")
    with pytest.raises(Invalid, match="Gmail's own labels"):
        editing.set_label(s, admin, named["SQL"], "Inbox")
    with pytest.raises(Invalid, match="empty part"):
        editing.set_label(s, admin, named["SQL"], "CRM//SQL")
    session.rollback()
    assert order(session, admin.workspace_id)[3] == "SQL"


def test_add_reorder_and_delete(session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    s = Scope(session, admin.workspace_id)
    demo = editing.add_stage(s, admin, "Demo booked", StageKind.open)
    assert demo.label == "CRM/Demo booked"
    assert order(session, admin.workspace_id)[-1] == "Demo booked"
    for _ in range(6):
        editing.move_stage(s, admin, demo, -1)
    assert order(session, admin.workspace_id)[:5] == ["Lead", "MQL", "SAL", "Demo booked", "SQL"]
    editing.move_stage(s, admin, stages(session, admin)["Lead"], -1)  # already first
    assert [st.position for st in list_stages(s)] == list(range(10))
    editing.delete_stage(s, admin, demo)
    session.commit()
    assert "Demo booked" not in order(session, admin.workspace_id)
    assert [st.position for st in list_stages(s)] == list(range(9))


def test_a_stage_holding_leads_cannot_be_deleted(session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    named = stages(session, admin)
    for _ in range(12):
        LeadFactory(owner=admin, stage_id=named["SQL"].id)
    with pytest.raises(Conflict) as refused:
        editing.delete_stage(Scope(session, admin.workspace_id), admin, named["SQL"])
    assert refused.value.message == "SQL still holds 12 leads. Move its 12 leads first."
    session.rollback()
    assert "SQL" in order(session, admin.workspace_id)


def test_only_admins_edit_stages(session: Session) -> None:
    rep = MemberFactory()
    s = Scope(session, rep.workspace_id)
    with pytest.raises(Forbidden):
        editing.add_stage(s, rep, "Demo", StageKind.open)
    with pytest.raises(Forbidden):
        editing.delete_stage(s, rep, stages(session, rep)["Nurture"])


def test_the_stages_page(client: FlaskClient, session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    named = stages(session, admin)
    LeadFactory(owner=admin, stage_id=named["SQL"].id)
    sign_in(client, admin)
    html = client.get("/settings/stages").text
    assert 'value="CRM/SQL"' in html
    token = csrf_token(html)

    renamed = client.post(
        f"/settings/stages/{named['SQL'].id}",
        data={"csrf_token": token, "name": "Qualified", "label": "CRM/SQL"},
    )
    assert renamed.status_code == 302
    assert 'value="CRM/Qualified"' in client.get("/settings/stages").text

    refused = client.post(f"/settings/stages/{named['SQL'].id}/delete", data={"csrf_token": token})
    assert refused.status_code == 409
    assert "Qualified still holds 1 lead. Move its 1 lead first." in refused.text

    taken = client.post(
        f"/settings/stages/{named['MQL'].id}",
        data={"csrf_token": token, "name": "Qualified", "label": "CRM/MQL"},
    )
    assert taken.status_code == 409
    assert "already a stage called Qualified" in taken.text

    added = client.post(
        "/settings/stages",
        data={"csrf_token": token, "name": "Demo", "kind": "open", "label": ""},
    )
    assert added.status_code == 302
    bad_kind = client.post(
        "/settings/stages", data={"csrf_token": token, "name": "Typed", "kind": "bogus"}
    )
    assert bad_kind.status_code == 400
    assert 'value="Typed"' in bad_kind.text
    up = client.post(
        f"/settings/stages/{named['Nurture'].id}/move",
        data={"csrf_token": token, "direction": "up"},
    )
    assert up.status_code == 302
    session.expire_all()
    assert order(session, admin.workspace_id)[-4:] == ["Nurture", "Lost", "Unqualified", "Demo"]
    gone = client.post(f"/settings/stages/{named['Nurture'].id}/delete", data={"csrf_token": token})
    assert gone.status_code == 302
    assert "Nurture" not in order(session, admin.workspace_id)


def test_reps_cannot_open_stage_settings(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    sign_in(client, rep)
    assert client.get("/settings/stages").status_code == 403
    assert "/settings/stages" not in client.get("/board").text
    outsider = MemberFactory(role=Role.admin)
    sign_in(client, outsider)
    token = csrf_token(client.get("/settings/stages").text)
    theirs = stages(session, rep)["Nurture"].id
    assert (
        client.post(f"/settings/stages/{theirs}/delete", data={"csrf_token": token}).status_code
        == 404
    )
