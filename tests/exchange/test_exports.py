"""The leads table as a CSV file: as filtered, every matching lead, safe in a spreadsheet."""

from __future__ import annotations

import csv
import io

from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory, api_token
from tests.support.web import sign_in


def _rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel reads UTF-8 with its BOM
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_the_export_holds_the_leads_as_filtered_with_formulas_escaped(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    sql = next(s for s in list_stages(Scope(session, admin.workspace_id)) if s.name == "SQL")
    LeadFactory(
        owner=admin,
        email="ann@acme.example",
        name='=HYPERLINK("http://evil")',
        stage_id=sql.id,
        other_emails=["ann@home.example"],
        tags=["vip", "fair"],
        deal_value="1200.50",
    )
    LeadFactory(owner=admin, email="bob@acme.example", name="+cmd|' /C calc'!A0", stage_id=sql.id)
    LeadFactory(owner=admin, email="cy@acme.example", name="Cy")  # in another stage
    sign_in(client, admin)
    response = client.get(f"/leads/export.csv?stage={sql.id}&sort=name")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = _rows(response.data)
    assert [r["Email"] for r in rows] == ["bob@acme.example", "ann@acme.example"]
    bob, ann = rows
    assert bob["Name"] == "'+cmd|' /C calc'!A0"
    assert ann["Name"] == '\'=HYPERLINK("http://evil")'
    assert (ann["Other emails"], ann["Tags"], ann["Deal value"], ann["Stage"]) == (
        "ann@home.example",
        "fair, vip",
        "1200.50",
        "SQL",
    )
    assert ann["Owner"] == admin.email


def test_a_rep_exports_their_own_leads_as_the_table_shows_them(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory(role=Role.rep)
    other = MemberFactory(workspace=rep.workspace)
    LeadFactory(owner=rep, email="mine@x.example")
    LeadFactory(owner=other, email="theirs@x.example")
    sign_in(client, rep)
    assert [r["Email"] for r in _rows(client.get("/leads/export.csv").data)] == ["mine@x.example"]
    everyone = _rows(client.get("/leads/export.csv?owner=any&sort=name").data)
    assert {r["Email"] for r in everyone} == {"mine@x.example", "theirs@x.example"}


def test_the_api_exports_and_refuses_a_bad_filter_in_its_json(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    LeadFactory(owner=admin, email="ann@acme.example")
    token = {"Authorization": f"Bearer {api_token(admin)}"}
    response = client.get("/api/v1/exports/leads.csv", headers=token)
    assert [r["Email"] for r in _rows(response.data)] == ["ann@acme.example"]
    bad = client.get("/api/v1/exports/leads.csv?sort=shoe_size", headers=token)
    assert bad.status_code == 400
    assert "unknown sort" in bad.json["error"]["message"]


def test_an_export_of_another_workspace_shows_none_of_its_leads(
    client: FlaskClient, session: Session
) -> None:
    LeadFactory(email="secret@other.example")
    me = MemberFactory(role=Role.admin)
    sign_in(client, me)
    assert _rows(client.get("/leads/export.csv").data) == []
