"""The team page, its API and its commands: members with their Gmail and activity,
invitations that a Google sign-in accepts, roles, joining by domain, and removing a member
whose leads someone takes."""

from __future__ import annotations

import pytest
import requests
from click.testing import CliRunner
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import ApiToken, Mailbox, MailboxStatus, Member, Role, Workspace
from inboxcrm.cli import main
from inboxcrm.config import Settings
from inboxcrm.leads.models import Lead
from inboxcrm.sandbox import RunningSandbox
from tests.factories import LeadFactory, MailboxFactory, MemberFactory, WorkspaceFactory, api_token
from tests.support.web import csrf_token, google_signin, sign_in


@pytest.fixture
def team(session: Session) -> dict[str, Member]:
    workspace = WorkspaceFactory(name="Northwind", domain="northwind.io")
    return {
        "admin": MemberFactory(
            workspace=workspace, role=Role.admin, email="ava@northwind.io", name="Ava"
        ),
        "rep": MemberFactory(
            workspace=workspace, role=Role.rep, email="ben@northwind.io", name="Ben"
        ),
        "marketer": MemberFactory(
            workspace=workspace, role=Role.marketer, email="mia@northwind.io", name="Mia"
        ),
    }


def post(client: FlaskClient, path: str, **form: str) -> tuple[int, str]:
    token = csrf_token(client.get("/team").text)
    answer = client.post(path, data={"csrf_token": token, **form}, follow_redirects=True)
    return answer.status_code, answer.text


def test_the_team_page_lists_members_with_gmail_activity_and_leads(
    client: FlaskClient, session: Session, team: dict[str, Member]
) -> None:
    rep = team["rep"]
    MailboxFactory(member=rep, email=rep.email)
    LeadFactory(owner=rep)
    LeadFactory(owner=rep)
    sign_in(client, team["admin"])
    page = client.get("/team").text
    ben = page[page.index('data-member="ben@northwind.io"') :].split("</tr>")[0]
    assert "syncing" in ben  # connected, first sync still queued
    assert ">2</a>" in ben
    mia = page[page.index('data-member="mia@northwind.io"') :].split("</tr>")[0]
    assert "not connected" in mia
    assert "—" in mia  # never active
    ava = page[page.index('data-member="ava@northwind.io"') :].split("</tr>")[0]
    assert "just now" in ava  # signed in a moment ago
    assert "Remove…" not in ava  # not yourself


def test_a_rep_sees_the_team_but_changes_nothing(
    client: FlaskClient, session: Session, team: dict[str, Member]
) -> None:
    sign_in(client, team["rep"])
    page = client.get("/team").text
    assert "Only admins change the team." in page
    assert 'name="role"' not in page
    status, text = post(client, "/team/invites", email="cy@northwind.io", role="rep")
    assert status == 403
    assert "only admins can invite people" in text
    assert post(client, f"/team/members/{team['marketer'].id}/role", role="admin")[0] == 403
    session.expire_all()
    assert session.get_one(Member, team["marketer"].id).role is Role.marketer


@pytest.mark.google
def test_an_invitation_is_accepted_by_signing_in_with_google(
    client: FlaskClient, session: Session, team: dict[str, Member], sandbox: RunningSandbox
) -> None:
    sign_in(client, team["admin"])
    status, page = post(client, "/team/invites", email="Cy@Outside.example", role="marketer")
    assert status == 200
    assert "Invited cy@outside.example as marketer" in page
    assert "cy@outside.example" in client.get("/team").text
    requests.post(
        f"{sandbox.url}/_sandbox/accounts",
        json={"email": "cy@outside.example", "name": "Cy"},
        timeout=10,
    )
    assert google_signin(client.application.test_client(), "cy@outside.example")[0] == 302
    cy = session.scalars(select(Member).where(Member.email == "cy@outside.example")).one()
    assert (cy.workspace_id, cy.role) == (team["admin"].workspace_id, Role.marketer)
    assert "No open invitations." in client.get("/team").text


def test_bad_invitations_say_what_to_type(
    client: FlaskClient, session: Session, team: dict[str, Member]
) -> None:
    sign_in(client, team["admin"])
    status, page = post(client, "/team/invites", email="not an address", role="rep")
    assert status == 422
    assert "an address such as ann@acme.com" in page
    assert 'value="not an address"' in page  # what was typed is kept
    status, page = post(client, "/team/invites", email="ben@northwind.io", role="rep")
    assert status == 422
    assert "ben@northwind.io is already a member" in page
    status, page = post(client, "/team/invites", email="cy@northwind.io", role="boss")
    assert status == 422
    assert "Role: choose admin, rep or marketer" in page


def test_roles_change_but_the_workspace_keeps_an_admin(
    client: FlaskClient, session: Session, team: dict[str, Member]
) -> None:
    sign_in(client, team["admin"])
    status, page = post(client, f"/team/members/{team['admin'].id}/role", role="rep")
    assert status == 422
    assert "Ava is the only admin: make someone else an admin first" in page
    status, page = post(client, f"/team/members/{team['rep'].id}/role", role="admin")
    assert "Ben is now an admin." in page
    session.expire_all()
    assert session.get_one(Member, team["rep"].id).role is Role.admin


@pytest.mark.google
def test_joining_by_domain_turns_off_and_on(
    client: FlaskClient, session: Session, team: dict[str, Member], sandbox: RunningSandbox
) -> None:
    sign_in(client, team["admin"])
    status, page = post(client, "/team/joining", joining="off")
    assert "New people now join by invitation only." in page
    requests.post(
        f"{sandbox.url}/_sandbox/accounts",
        json={"email": "dee@northwind.io", "name": "Dee"},
        timeout=10,
    )
    status, text = google_signin(client.application.test_client(), "dee@northwind.io")
    assert status == 403
    assert "invitation only" in text
    status, page = post(client, "/team/joining", joining="on")
    assert "northwind.io now join as reps" in page
    assert google_signin(client.application.test_client(), "dee@northwind.io")[0] == 302


def test_removing_a_member_hands_over_their_leads_and_ends_their_access(
    client: FlaskClient, session: Session, team: dict[str, Member]
) -> None:
    rep, admin = team["rep"], team["admin"]
    box = MailboxFactory(member=rep, email=rep.email)
    leads = [LeadFactory(owner=rep) for _ in range(3)]
    token = api_token(rep)
    rep_browser = sign_in(client.application.test_client(), rep)
    sign_in(client, admin)

    confirm = client.get(f"/team/members/{rep.id}/remove").text
    assert "Ben owns 3 leads. Who takes them?" in confirm
    status, page = post(client, f"/team/members/{rep.id}/remove", heir_id=str(team["marketer"].id))
    assert status == 200
    assert "Removed Ben from the team; their 3 leads are now Mia&#39;s." in page
    assert 'data-member="ben@northwind.io"' not in page

    session.expire_all()
    assert {session.get_one(Lead, lead.id).owner_id for lead in leads} == {team["marketer"].id}
    assert session.get_one(Mailbox, box.id).status is MailboxStatus.disconnected
    assert session.get_one(Mailbox, box.id).token_ciphertext is None
    assert rep_browser.get("/leads").status_code == 302  # signed out
    api = client.get("/api/v1/leads", headers={"Authorization": f"Bearer {token}"})
    assert api.status_code == 401
    assert session.scalars(select(ApiToken).where(ApiToken.member_id == rep.id)).one().revoked_at


def test_removal_refuses_yourself_and_an_heir_who_is_not_on_the_team(
    client: FlaskClient, session: Session, team: dict[str, Member]
) -> None:
    sign_in(client, team["admin"])
    status, page = post(client, f"/team/members/{team['admin'].id}/remove")
    assert status == 422
    assert "You cannot remove yourself: another admin can." in page
    stranger = MemberFactory()
    status, page = post(client, f"/team/members/{team['rep'].id}/remove", heir_id=str(stranger.id))
    assert status == 422
    assert "choose someone staying on the team" in page
    session.expire_all()
    assert session.get_one(Member, team["rep"].id).removed_at is None


@pytest.mark.google
def test_a_removed_member_comes_back_only_by_invitation(
    client: FlaskClient, session: Session, team: dict[str, Member], sandbox: RunningSandbox
) -> None:
    requests.post(
        f"{sandbox.url}/_sandbox/accounts",
        json={"email": "ben@northwind.io", "name": "Ben"},
        timeout=10,
    )
    sign_in(client, team["admin"])
    post(client, f"/team/members/{team['rep'].id}/remove", heir_id="")
    status, text = google_signin(client.application.test_client(), "ben@northwind.io")
    assert status == 403
    assert "no longer a member of Northwind: ask an admin there to invite you again" in text
    status, page = post(client, "/team/invites", email="ben@northwind.io", role="marketer")
    assert "Invited ben@northwind.io as marketer" in page
    assert google_signin(client.application.test_client(), "ben@northwind.io")[0] == 302
    session.expire_all()
    back = session.get_one(Member, team["rep"].id)
    assert (back.removed_at, back.role) == (None, Role.marketer)


def test_the_api_lists_invites_changes_and_removes(
    client: FlaskClient, session: Session, team: dict[str, Member]
) -> None:
    admin = {"Authorization": f"Bearer {api_token(team['admin'])}"}
    LeadFactory(owner=team["rep"])
    listed = client.get("/api/v1/team", headers=admin).json
    assert listed["members"][0]["email"] == "ava@northwind.io"  # admins first
    assert {m["email"]: m["gmail"] for m in listed["members"]}[
        "ben@northwind.io"
    ] == "not connected"
    assert (listed["domain"], listed["joining"]) == ("northwind.io", True)

    invited = client.post("/api/v1/team/invites", json={"email": "cy@northwind.io"}, headers=admin)
    assert invited.status_code == 201
    assert invited.json["role"] == "rep"
    bad = client.post("/api/v1/team/invites", json={"email": "cy", "extra": 1}, headers=admin)
    assert bad.status_code == 422
    assert bad.json["error"]["fields"] == {"extra": "unknown field"}
    assert (
        client.delete(f"/api/v1/team/invites/{invited.json['id']}", headers=admin).status_code
        == 204
    )

    changed = client.patch(
        f"/api/v1/team/members/{team['marketer'].id}", json={"role": "rep"}, headers=admin
    )
    assert changed.json["role"] == "rep"
    wrong = client.patch(
        f"/api/v1/team/members/{team['marketer'].id}", json={"role": "owner"}, headers=admin
    )
    assert wrong.status_code == 422
    assert (
        client.patch("/api/v1/team/settings", json={"joining": "no"}, headers=admin).status_code
        == 422
    )
    assert client.patch("/api/v1/team/settings", json={"joining": False}, headers=admin).json == {
        "domain": "northwind.io",
        "joining": False,
    }
    missing = client.post(f"/api/v1/team/members/{team['rep'].id}/remove", json={}, headers=admin)
    assert missing.status_code == 422
    removed = client.post(
        f"/api/v1/team/members/{team['rep'].id}/remove", json={"heir_id": None}, headers=admin
    )
    assert removed.json == {"removed": team["rep"].id, "heir_id": None, "leads": 1}
    assert "ben@northwind.io" not in client.get("/api/v1/team", headers=admin).text

    rep = {"Authorization": f"Bearer {api_token(team['marketer'])}"}
    refused = client.post("/api/v1/team/invites", json={"email": "x@northwind.io"}, headers=rep)
    assert refused.status_code == 403
    assert refused.json["error"]["message"] == "only admins can invite people"
    other = MemberFactory(role=Role.admin)
    theirs = {"Authorization": f"Bearer {api_token(other)}"}
    assert (
        client.patch(
            f"/api/v1/team/members/{team['marketer'].id}", json={"role": "admin"}, headers=theirs
        ).status_code
        == 404
    )


@pytest.fixture
def cli(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("INBOXCRM_ENV", "production")
    monkeypatch.setenv("INBOXCRM_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("INBOXCRM_SECRET_KEY", settings.secret_key)
    monkeypatch.setenv("INBOXCRM_TOKEN_KEY", settings.token_key)
    return CliRunner()


def test_the_commands_do_what_the_page_does(
    cli: CliRunner, session: Session, team: dict[str, Member]
) -> None:
    LeadFactory(owner=team["rep"])
    listed = cli.invoke(main, ["member", "list", "--workspace", "Northwind"])
    assert listed.exit_code == 0, listed.output
    assert "ben@northwind.io" in listed.output
    assert "joining by domain (northwind.io): on" in listed.output
    invited = cli.invoke(main, ["member", "invite", "cy@northwind.io", "--workspace", "Northwind"])
    assert "invited cy@northwind.io as rep" in invited.output
    assert (
        "cy@northwind.io" in cli.invoke(main, ["member", "list", "--workspace", "Northwind"]).output
    )
    assert cli.invoke(main, ["member", "role", "mia@northwind.io", "admin"]).exit_code == 0
    last = cli.invoke(main, ["member", "role", "ava@northwind.io", "rep"])
    assert last.exit_code == 0  # Mia is an admin now too
    only = cli.invoke(main, ["member", "role", "mia@northwind.io", "rep"])
    assert only.exit_code == 1
    assert "only admin" in only.output
    removed = cli.invoke(
        main, ["member", "remove", "ben@northwind.io", "--leads-to", "mia@northwind.io"]
    )
    assert removed.exit_code == 0, removed.output
    assert "their 1 lead is now Mia's" in removed.output
    again = cli.invoke(main, ["member", "remove", "ben@northwind.io"])
    assert again.exit_code == 1
    assert "no member ben@northwind.io" in again.output
    off = cli.invoke(main, ["workspace", "joining", "Northwind", "off"])
    assert off.exit_code == 0
    session.expire_all()
    assert (
        session.scalars(select(Workspace.allow_join).where(Workspace.name == "Northwind")).one()
        is False
    )
