from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.leads.models import Lead
from tests.factories import LeadFactory, MemberFactory, api_token
from tests.support.database import statements


@pytest.fixture
def rep(session: Session) -> Any:
    return MemberFactory()


@pytest.fixture
def auth(rep: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_token(rep)}"}


def lead_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(Lead)) or 0


def test_requests_without_a_valid_token_get_401(client: FlaskClient, session: Session) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        response = client.get("/api/v1/leads", headers=headers)
        assert response.status_code == 401
        assert response.json["error"]["status"] == 401
        assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_token_finds_its_member_in_one_query(client: FlaskClient, auth: dict[str, str]) -> None:
    engine = client.application.extensions["inboxcrm.db"].engine
    client.get("/api/v1/leads", headers=auth)  # the token's first use is written down
    sent = statements(engine, lambda: client.get("/api/v1/leads", headers=auth))
    (token,) = [sql for sql, _ in sent if "FROM api_token" in sql]
    assert "JOIN member" in token
    assert not [sql for sql, _ in sent if sql.startswith("SELECT member.")]


def test_create_get_update_and_list(client: FlaskClient, auth: dict[str, str], rep: Any) -> None:
    created = client.post(
        "/api/v1/leads",
        json={
            "email": "Ann@Acme.com",
            "name": "Ann",
            "company": "Acme",
            "deal_value": "1200.50",
            "tags": ["inbound"],
        },
        headers=auth,
    )
    assert created.status_code == 201, created.json
    lead = created.json
    assert lead["email"] == "ann@acme.com"
    assert lead["owner"]["id"] == rep.id
    assert lead["stage"]["name"] == "Lead"
    assert lead["deal_value"] == "1200.50"
    assert created.headers["Location"].endswith(f"/api/v1/leads/{lead['id']}")

    stages = client.get("/api/v1/stages", headers=auth).json["stages"]
    assert [s["name"] for s in stages] == [
        "Lead",
        "MQL",
        "SAL",
        "SQL",
        "SQO",
        "Won",
        "Lost",
        "Nurture",
        "Unqualified",
    ]
    assert stages[3]["label"] == "CRM/SQL"
    assert stages[0]["label"] is None

    updated = client.patch(
        f"/api/v1/leads/{lead['id']}",
        json={"stage_id": stages[3]["id"], "title": "CFO"},
        headers=auth,
    )
    assert updated.status_code == 200, updated.json
    assert (updated.json["stage"]["name"], updated.json["title"], updated.json["name"]) == (
        "SQL",
        "CFO",
        "Ann",
    )

    assert client.get(f"/api/v1/leads/{lead['id']}", headers=auth).json["title"] == "CFO"
    listing = client.get("/api/v1/leads?q=acme&sort=-score", headers=auth).json
    assert [x["id"] for x in listing["leads"]] == [lead["id"]]
    assert (listing["total"], listing["total_exact"], listing["page"]) == (1, True, 1)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"email": "not-an-email"}, 422, "email"),
        ({"email": "a@b.com", "favourite_colour": "red"}, 422, "favourite_colour"),
        ({"email": "a@b.com", "name": "x" * 201}, 422, "name"),
        ({"email": "a@b.com", "deal_value": "-5"}, 422, "deal_value"),
        ({"email": "a@b.com", "deal_value": "1.234"}, 422, "deal_value"),
        ({"email": "a@b.com", "currency": "dollars"}, 422, "currency"),
        ({"email": "a@b.com", "timezone": "Mars/Olympus"}, 422, "timezone"),
        ({"email": "a@b.com", "phone": "call me maybe"}, 422, "phone"),
        ({"email": "a@b.com", "owner_id": 999999}, 422, "owner_id"),
        ({"name": "no email"}, 422, "email"),
    ],
)
def test_bad_fields_get_422_and_write_nothing(
    client: FlaskClient,
    session: Session,
    auth: dict[str, str],
    body: dict[str, Any],
    status: int,
    field: str,
) -> None:
    response = client.post("/api/v1/leads", json=body, headers=auth)
    assert response.status_code == status, response.json
    error = response.json["error"]
    assert error["status"] == status
    assert field in error.get("fields", {}) or field in error["message"]
    assert lead_count(session) == 0


def test_malformed_json_gets_400(
    client: FlaskClient, session: Session, auth: dict[str, str]
) -> None:
    for data, content_type in (
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ("email=x", "text/plain"),
    ):
        response = client.post("/api/v1/leads", data=data, content_type=content_type, headers=auth)
        assert response.status_code == 400
        assert response.json["error"]["message"]
    assert lead_count(session) == 0


def test_a_duplicate_email_gets_409(
    client: FlaskClient, session: Session, auth: dict[str, str]
) -> None:
    assert (
        client.post("/api/v1/leads", json={"email": "ann@acme.com"}, headers=auth).status_code
        == 201
    )
    response = client.post("/api/v1/leads", json={"email": "ANN@acme.com "}, headers=auth)
    assert response.status_code == 409
    assert "already belongs" in response.json["error"]["message"]
    assert lead_count(session) == 1


def test_bad_query_parameters_get_400(client: FlaskClient, auth: dict[str, str]) -> None:
    for query in (
        "page=abc",
        "page=0",
        "per_page=1000",
        "sort=password",
        "temperature=boiling",
        "stage=x",
    ):
        response = client.get(f"/api/v1/leads?{query}", headers=auth)
        assert response.status_code == 400, query
        assert response.json["error"]["message"]


def test_marketers_get_403_for_pipeline_changes(
    client: FlaskClient, session: Session, rep: Any
) -> None:
    lead = LeadFactory(owner=rep)
    marketer = MemberFactory(workspace=rep.workspace, role=Role.marketer)
    headers = {"Authorization": f"Bearer {api_token(marketer)}"}
    response = client.patch(
        f"/api/v1/leads/{lead.id}", json={"owner_id": marketer.id}, headers=headers
    )
    assert response.status_code == 403
    assert (
        client.patch(
            f"/api/v1/leads/{lead.id}", json={"tags": ["webinar"]}, headers=headers
        ).status_code
        == 200
    )


def test_another_workspaces_lead_is_404_by_api(
    client: FlaskClient, session: Session, auth: dict[str, str]
) -> None:
    foreign = LeadFactory(name="Secret Person")
    assert client.get(f"/api/v1/leads/{foreign.id}", headers=auth).status_code == 404
    response = client.patch(f"/api/v1/leads/{foreign.id}", json={"name": "Hijacked"}, headers=auth)
    assert response.status_code == 404
    assert client.get("/api/v1/leads?q=secret", headers=auth).json["leads"] == []
    session.refresh(foreign)
    assert foreign.name == "Secret Person"


def test_unknown_routes_and_methods_answer_in_json(
    client: FlaskClient, auth: dict[str, str]
) -> None:
    assert client.get("/api/v1/nothing-here", headers=auth).json["error"]["status"] == 404
    response = client.delete("/api/v1/stages", headers=auth)
    assert response.status_code == 405
    assert response.json["error"]["status"] == 405


def test_a_revoked_token_stops_working(client: FlaskClient, session: Session, rep: Any) -> None:
    from inboxcrm.accounts.models import ApiToken
    from inboxcrm.db import utcnow

    token = api_token(rep)
    assert (
        client.get("/api/v1/stages", headers={"Authorization": f"Bearer {token}"}).status_code
        == 200
    )
    row = session.scalars(select(ApiToken)).one()
    assert row.last_used_at is not None
    assert token not in (row.token_hash, row.name)  # only a hash is kept
    row.revoked_at = utcnow()
    session.commit()
    assert (
        client.get("/api/v1/stages", headers={"Authorization": f"Bearer {token}"}).status_code
        == 401
    )
