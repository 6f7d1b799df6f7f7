from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from tests.factories import LeadFactory, MemberFactory, api_token
from tests.support.stages import stages


def test_admins_edit_stages_through_the_api(client: FlaskClient, session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    headers = {"Authorization": f"Bearer {api_token(admin)}"}
    named = stages(session, admin)

    added = client.post("/api/v1/stages", json={"name": "Demo", "kind": "open"}, headers=headers)
    assert added.status_code == 201
    assert added.json["label"] == "CRM/Demo"
    assert added.json["position"] == 9
    moved = client.patch(
        f"/api/v1/stages/{added.json['id']}", json={"position": 2, "name": "Demo booked"},
        headers=headers,
    )  # fmt: skip
    assert moved.json == {
        "id": added.json["id"], "name": "Demo booked", "kind": "open", "position": 2,
        "label": "CRM/Demo booked",
    }  # fmt: skip
    names = [s["name"] for s in client.get("/api/v1/stages", headers=headers).json["stages"]]
    assert names[:4] == ["Lead", "MQL", "Demo booked", "SAL"]
    unlabelled = client.patch(
        f"/api/v1/stages/{named['Won'].id}", json={"label": None}, headers=headers
    )
    assert unlabelled.json["label"] is None
    assert client.delete(f"/api/v1/stages/{added.json['id']}", headers=headers).status_code == 204


def test_bad_stage_requests_get_clear_errors(client: FlaskClient, session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    rep = MemberFactory(workspace=admin.workspace)
    headers = {"Authorization": f"Bearer {api_token(admin)}"}
    named = stages(session, admin)
    LeadFactory(owner=rep, stage_id=named["SQL"].id)
    LeadFactory(owner=rep, stage_id=named["SQL"].id)

    held = client.delete(f"/api/v1/stages/{named['SQL'].id}", headers=headers)
    assert held.status_code == 409
    assert held.json["error"]["message"] == "SQL still holds 2 leads. Move its 2 leads first."
    for body, status in (
        ({"name": "X", "kind": []}, 422),
        ({"name": "X", "kind": "bogus"}, 422),
        ({"name": 5, "kind": "open"}, 422),
        ({"name": "mql", "kind": "open"}, 409),
        ({"name": "", "kind": "open"}, 422),
    ):
        refused = client.post("/api/v1/stages", json=body, headers=headers)
        assert refused.status_code == status, body
        assert refused.json["error"]["message"]
    bad_position = client.patch(
        f"/api/v1/stages/{named['SQL'].id}", json={"position": "1"}, headers=headers
    )
    assert bad_position.status_code == 422
    rep_headers = {"Authorization": f"Bearer {api_token(rep)}"}
    forbidden = client.post(
        "/api/v1/stages", json={"name": "Y", "kind": "open"}, headers=rep_headers
    )
    assert forbidden.status_code == 403
    outsider = {"Authorization": f"Bearer {api_token(MemberFactory(role=Role.admin))}"}
    assert (
        client.delete(f"/api/v1/stages/{named['Nurture'].id}", headers=outsider).status_code == 404
    )
    names = [s["name"] for s in client.get("/api/v1/stages", headers=headers).json["stages"]]
    assert names == ["Lead", "MQL", "SAL", "SQL", "SQO", "Won", "Lost", "Nurture", "Unqualified"]
