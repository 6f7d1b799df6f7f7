from __future__ import annotations

import re

from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.leads.models import Lead
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MemberFactory
from tests.support.database import statements
from tests.support.web import csrf_token, sign_in


def rows(html: str) -> list[str]:
    return re.findall(r'class="lead-name">([^<]+)<', html)


def test_pages_need_a_signed_in_member(client: FlaskClient, session: Session) -> None:
    response = client.get("/leads?q=x")
    assert response.status_code == 302
    assert response.location.startswith("/signin?next=/leads")


def test_reps_see_their_own_leads_first(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    colleague = MemberFactory(workspace=rep.workspace)
    LeadFactory(owner=rep, name="Mine One")
    LeadFactory(owner=colleague, name="Theirs One")
    sign_in(client, rep)
    page = client.get("/leads").text
    assert rows(page) == ["Mine One"]
    assert 'value="me" selected' in page
    assert sorted(rows(client.get("/leads?owner=any").text)) == ["Mine One", "Theirs One"]
    assert rows(client.get(f"/leads?owner={colleague.id}").text) == ["Theirs One"]


def test_a_page_reads_the_member_with_their_workspace_in_one_query(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory()
    LeadFactory(owner=rep, name="Mine One")
    sign_in(client, rep)
    engine = client.application.extensions["inboxcrm.db"].engine
    sent = statements(engine, lambda: client.get("/leads"))
    assert rep.workspace.name in client.get("/leads").text  # the header names it
    resumed = [sql for sql, _ in sent if "FROM login_session" in sql]
    assert len(resumed) == 1  # the session, its member and the workspace, read together
    assert "JOIN workspace" in resumed[0]
    assert not [sql for sql, _ in sent if sql.startswith("SELECT workspace.")]


def test_admins_see_the_whole_team_by_default(client: FlaskClient, session: Session) -> None:
    admin = MemberFactory(role=Role.admin)
    LeadFactory(owner=MemberFactory(workspace=admin.workspace), name="Team Lead")
    sign_in(client, admin)
    assert rows(client.get("/leads").text) == ["Team Lead"]


def test_an_empty_workspace_explains_how_to_start(client: FlaskClient, session: Session) -> None:
    sign_in(client, MemberFactory())
    page = client.get("/leads").text
    assert "No leads yet" in page
    assert "api-token create" in page


def test_search_filter_and_pagination_links_keep_the_filters(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory()
    for i in range(60):
        LeadFactory(
            owner=rep, name=f"Acme Person {i:02}", company="Acme", tags=["vip"] if i % 2 else []
        )
    LeadFactory(owner=rep, name="Other Person", company="Globex")
    sign_in(client, rep)
    page = client.get("/leads?q=acme&sort=name").text
    assert rows(page)[:2] == ["Acme Person 00", "Acme Person 01"]
    assert len(rows(page)) == 50
    assert "1\N{EN DASH}50 of 60 leads" in page
    assert re.search(
        r'href="/leads\?[^"]*q=acme[^"]*page=2[^"]*"|href="/leads\?[^"]*page=2[^"]*q=acme',
        page.replace("&amp;", "&"),
    )
    second = client.get("/leads?q=acme&sort=name&page=2").text
    assert rows(second)[-1] == "Acme Person 59"
    assert len(rows(client.get("/leads?tag=vip").text)) == 30


def test_bad_page_numbers_get_a_clear_400(client: FlaskClient, session: Session) -> None:
    sign_in(client, MemberFactory())
    response = client.get("/leads?page=banana")
    assert response.status_code == 400
    assert "page must be a whole number" in response.text


def test_create_a_lead_by_hand(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    sign_in(client, rep)
    form = client.get("/leads/new").text
    response = client.post(
        "/leads/new",
        data={
            "csrf_token": csrf_token(form),
            "email": "new@lead.example",
            "name": "New Lead",
            "tags": "a, b",
            "owner_id": str(rep.id),
        },
    )
    assert response.status_code == 302
    page = client.get(response.location).text
    assert "New Lead" in page
    assert "new@lead.example" in page


def test_a_bad_form_is_shown_again_with_what_was_typed(
    client: FlaskClient, session: Session
) -> None:
    rep = MemberFactory()
    taken = LeadFactory(owner=rep, email="taken@lead.example", name="Tara Taken")
    sign_in(client, rep)
    token = csrf_token(client.get("/leads/new").text)
    response = client.post(
        "/leads/new", data={"csrf_token": token, "email": "taken@lead.example", "name": "Keep Me"}
    )
    assert response.status_code == 422
    assert "taken@lead.example already belongs to Tara Taken" in response.text
    assert f'<a href="/leads/{taken.id}">Open Tara Taken</a>' in response.text  # named, linked
    assert 'value="Keep Me"' in response.text
    response = client.post(
        "/leads/new", data={"csrf_token": token, "email": "nope", "name": "Still Here"}
    )
    assert response.status_code == 422
    assert 'value="Still Here"' in response.text
    assert session.scalar(select(func.count()).select_from(Lead)) == 1


def test_forms_without_a_csrf_token_are_refused(client: FlaskClient, session: Session) -> None:
    sign_in(client, MemberFactory())
    response = client.post("/leads/new", data={"email": "x@y.example"})
    assert response.status_code == 400
    assert session.scalar(select(func.count()).select_from(Lead)) == 0


def test_bulk_change_owner_stage_and_tags(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    colleague = MemberFactory(workspace=rep.workspace)
    leads = [LeadFactory(owner=rep) for _ in range(3)]
    sql = list_stages(Scope(session, rep.workspace_id))[3]
    sign_in(client, rep)
    token = csrf_token(client.get("/leads").text)
    response = client.post(
        "/leads/bulk",
        data={
            "csrf_token": token,
            "lead_ids": [str(x.id) for x in leads[:2]],
            "owner": str(colleague.id),
            "stage": str(sql.id),
            "add_tag": "hot-list",
            "next": "/leads?owner=any",
        },
    )
    assert response.status_code == 302
    assert response.location == "/leads?owner=any"
    assert "Updated 2 leads." in client.get(response.location).text
    session.expire_all()
    changed = [session.get(Lead, x.id) for x in leads]
    assert [(x.owner_id, x.stage.name, [t.name for t in x.tags]) for x in changed] == [  # type: ignore[union-attr]
        (colleague.id, "SQL", ["hot-list"]),
        (colleague.id, "SQL", ["hot-list"]),
        (rep.id, "Lead", []),
    ]


def test_bulk_with_a_foreign_lead_changes_nothing(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    mine = LeadFactory(owner=rep)
    foreign = LeadFactory()
    sign_in(client, rep)
    token = csrf_token(client.get("/leads").text)
    client.post(
        "/leads/bulk",
        data={"csrf_token": token, "lead_ids": [str(mine.id), str(foreign.id)], "owner": "none"},
    )
    session.expire_all()
    assert session.get(Lead, mine.id).owner_id == rep.id  # type: ignore[union-attr]
    assert session.get(Lead, foreign.id).owner_id is not None  # type: ignore[union-attr]


def test_another_workspaces_lead_is_404_by_page(client: FlaskClient, session: Session) -> None:
    rep = MemberFactory()
    own = LeadFactory(owner=rep, name="Own Lead")
    foreign = LeadFactory(name="Foreign Lead")
    sign_in(client, rep)
    assert client.get(f"/leads/{own.id}").status_code == 200
    response = client.get(f"/leads/{foreign.id}")
    assert response.status_code == 404
    assert "Foreign Lead" not in response.text
    assert "Foreign Lead" not in client.get("/leads?owner=any&q=foreign").text


def test_a_marketer_is_offered_no_control_their_role_cannot_use(
    client: FlaskClient, session: Session
) -> None:
    marketer = MemberFactory(role=Role.marketer)
    lead = LeadFactory(owner=MemberFactory(workspace=marketer.workspace))
    sign_in(client, marketer)
    table = client.get("/leads?owner=any").text
    assert 'aria-label="Set owner"' not in table
    assert 'aria-label="Set stage"' not in table
    assert 'value="not_a_lead"' not in table
    assert 'aria-label="Add tag"' in table  # details they may edit
    page = client.get(f"/leads/{lead.id}").text
    for refused in ("Edit owner", "Edit stage", "Edit deal value", "Take it", "Not a lead"):
        assert refused not in page, refused
    assert "Edit title" in page
    form = client.get("/leads/new").text
    assert 'name="owner_id"' not in form
    assert 'name="stage_id"' not in form
    assert 'name="deal_value"' not in form
