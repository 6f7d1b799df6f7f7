"""Junk control: "Not a lead" (page, bulk, API), the blocklist and its cleanup, the lead
capture settings page, and who may do what."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from inboxcrm.accounts.models import LeadPolicy, Mailbox, Role, Workspace
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Activity, BlockedAddress, Lead, ThreadLead
from inboxcrm.leads.schemas import LeadUpdate
from inboxcrm.leads.service import BulkChange, bulk_update, update_lead
from inboxcrm.mail.models import Message, Thread
from inboxcrm.runtime import Runtime, run_job
from inboxcrm.setup import jobs
from inboxcrm.tenancy import Scope
from tests.factories import BlockedAddressFactory, MailboxFactory, WorkspaceFactory, api_token
from tests.support.synced import NOW, mail, sync
from tests.support.web import csrf_token, sign_in

ADMIN = "ada@team.example"
REP = "rita@team.example"


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(domain="team.example")


@pytest.fixture
def admin(session: Session, workspace: Workspace) -> Mailbox:
    return MailboxFactory(workspace=workspace, email=ADMIN, role=Role.admin)


@pytest.fixture
def rep(session: Session, workspace: Workspace) -> Mailbox:
    return MailboxFactory(workspace=workspace, email=REP)


def lead(session: Session, email: str) -> Lead | None:
    session.expire_all()
    return session.scalars(select(Lead).where(Lead.email == email)).unique().first()


def emails(session: Session) -> set[str]:
    session.expire_all()
    return set(session.scalars(select(Lead.email)))


def count(session: Session, model: type, *where: Any) -> int:
    return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def form(client: FlaskClient, page: str, url: str, **data: Any) -> Any:
    token = csrf_token(client.get(page).text)
    return client.post(url, data={"csrf_token": token, **data})


def conversation(session: Session, box: Mailbox, *people: str, thread: str = "t1") -> None:
    """The team writes to these people and the first one answers."""
    sync(
        session,
        box,
        mail(box.email, ", ".join(people), thread=thread, minute=0, sent=True),
        mail(people[0], box.email, thread=thread, minute=10),
    )


# --- "Not a lead" ------------------------------------------------------------------------


def test_not_a_lead_removes_the_lead_and_its_links_and_keeps_the_mail(
    client: FlaskClient, session: Session, rep: Mailbox
) -> None:
    conversation(session, rep, "ann@acme.example", "bo@globex.example")
    ann = lead(session, "ann@acme.example")
    bo = lead(session, "bo@globex.example")
    assert ann is not None
    assert bo is not None
    thread = session.scalars(select(Thread)).one()
    ann_id, bo_id = ann.id, bo.id
    assert thread.primary_lead_id == ann_id
    sign_in(client, rep.member)
    answer = form(client, f"/leads/{ann_id}", f"/leads/{ann_id}/not-a-lead", block="")
    assert answer.status_code == 302
    assert "Removed 1 lead." in client.get(answer.location).text
    assert emails(session) == {"bo@globex.example"}
    assert count(session, ThreadLead, ThreadLead.lead_id == ann_id) == 0
    assert count(session, Activity, Activity.lead_id == ann_id) == 0
    assert count(session, Message) == 2  # the mail stays
    session.refresh(thread)
    assert thread.primary_lead_id == bo_id  # the next lead on the thread
    # Not blocked: new mail from Ann makes her a lead again.
    sync(session, rep, mail("ann@acme.example", REP, thread="t1", minute=20))
    assert "ann@acme.example" in emails(session)


def test_blocking_a_domain_cleans_existing_junk_and_keeps_worked_on_leads(
    client: FlaskClient, session: Session, admin: Mailbox, rep: Mailbox
) -> None:
    conversation(session, rep, "a@acme.example", "b@mail.acme.example", "c@acme.example",
                 "d@other.example")  # fmt: skip
    worked = lead(session, "c@acme.example")
    assert worked is not None
    update_lead(Scope(session, rep.workspace_id), worked, LeadUpdate(title="CTO"), rep.member, NOW)
    session.commit()
    target = lead(session, "a@acme.example")
    assert target is not None
    sign_in(client, admin.member)
    preview = form(client, "/leads", f"/leads/{target.id}/not-a-lead", block="domain")
    assert preview.status_code == 200  # first, what the block would do, by name
    assert "Not a lead: block @acme.example?" in preview.text
    assert "The block also removes 1 other lead no one has worked on:" in preview.text
    assert "<li>b@mail.acme.example</li>" in preview.text
    assert "Kept, because reps have worked on them: c@acme.example." in preview.text
    assert len(emails(session)) == 4  # nothing removed yet
    answer = form(client, "/leads", f"/leads/{target.id}/not-a-lead", block="domain", confirmed="1")
    page = client.get(answer.location).text
    assert "Removed 2 leads; blocked @acme.example." in page
    assert "Kept c@acme.example: reps have worked on them." in page
    assert emails(session) == {"c@acme.example", "d@other.example"}
    assert set(session.scalars(select(BlockedAddress.pattern))) == {"@acme.example"}
    # The domain and its subdomains never come back.
    sync(session, rep, mail(REP, "new@eu.acme.example", thread="t9", sent=True))
    assert "new@eu.acme.example" not in emails(session)


def _not_leads_in_bulk(client: FlaskClient, page: str, ids: list[int]) -> TestResponse:
    """The leads table's bulk "not a lead", their addresses blocked, back to the table."""
    return client.post(
        "/leads/bulk",
        data={
            "csrf_token": csrf_token(page),
            "lead_ids": [str(i) for i in ids],
            "action": "not_a_lead",
            "block": "address",
            "next": "/leads?owner=any",
        },
    )


def test_not_a_lead_in_bulk_from_the_leads_table(
    client: FlaskClient, session: Session, rep: Mailbox
) -> None:
    conversation(session, rep, "x@spam.example", "y@gmail.com", "keep@acme.example")
    ids = [lead(session, e).id for e in ("x@spam.example", "y@gmail.com")]  # type: ignore[union-attr]
    sign_in(client, rep.member)
    page = client.get("/leads?owner=any&review=1")
    assert page.text.count("new from mail") == 3
    answer = _not_leads_in_bulk(client, page.text, ids)
    assert answer.location == "/leads?owner=any"
    assert (
        "Removed 2 leads; blocked x@spam.example, y@gmail.com." in client.get(answer.location).text
    )
    assert emails(session) == {"keep@acme.example"}
    sync(session, rep, mail("x@spam.example", REP, thread="t1", minute=30))
    assert emails(session) == {"keep@acme.example"}


def test_what_a_bulk_removal_reports_names_the_leads_in_the_order_selected(
    client: FlaskClient, session: Session, rep: Mailbox
) -> None:
    """Whatever order the database finds them in (PostgreSQL's heap order moves with
    updates): here the later lead is selected first."""
    conversation(session, rep, "x@spam.example", "y@gmail.com")
    ids = [lead(session, e).id for e in ("y@gmail.com", "x@spam.example")]  # type: ignore[union-attr]
    assert ids[0] > ids[1]
    sign_in(client, rep.member)
    answer = _not_leads_in_bulk(client, client.get("/leads?owner=any&review=1").text, ids)
    assert (
        "Removed 2 leads; blocked y@gmail.com, x@spam.example." in client.get(answer.location).text
    )


def test_blocking_a_free_mail_domain_blocks_the_address_instead(
    client: FlaskClient, session: Session, admin: Mailbox
) -> None:
    conversation(session, admin, "pal@gmail.com")
    pal = lead(session, "pal@gmail.com")
    assert pal is not None
    sign_in(client, admin.member)
    form(client, "/leads", f"/leads/{pal.id}/not-a-lead", block="domain", confirmed="1")
    assert set(session.scalars(select(BlockedAddress.pattern))) == {"pal@gmail.com"}


def test_reps_junk_their_own_and_unowned_leads_only(
    client: FlaskClient, session: Session, workspace: Workspace, admin: Mailbox, rep: Mailbox
) -> None:
    conversation(session, admin, "admins@acme.example", thread="a")
    conversation(session, rep, "mine@globex.example", thread="r")
    theirs = lead(session, "admins@acme.example")
    mine = lead(session, "mine@globex.example")
    assert theirs is not None
    assert mine is not None
    sign_in(client, rep.member)
    answer = form(client, "/leads", f"/leads/{theirs.id}/not-a-lead")
    assert "belongs to another rep" in client.get(answer.location).text
    answer = form(client, "/leads", f"/leads/{mine.id}/not-a-lead", block="domain")
    assert "only admins can block a whole domain" in client.get(answer.location).text
    # Bulk is all or nothing.
    page = client.get("/leads?owner=any")
    client.post(
        "/leads/bulk",
        data={"csrf_token": csrf_token(page.text), "lead_ids": [mine.id, theirs.id],
              "action": "not_a_lead", "next": "/leads"},
    )  # fmt: skip
    assert emails(session) == {"admins@acme.example", "mine@globex.example"}
    assert count(session, BlockedAddress) == 0
    mine.owner_id = None
    session.commit()
    form(client, "/leads", f"/leads/{mine.id}/not-a-lead")
    assert emails(session) == {"admins@acme.example"}


def test_a_marketer_removes_no_lead(client: FlaskClient, session: Session, admin: Mailbox) -> None:
    conversation(session, admin, "ann@acme.example")
    ann = lead(session, "ann@acme.example")
    assert ann is not None
    marketer = MailboxFactory(workspace=session.get_one(Workspace, admin.workspace_id),
                              email="mo@team.example", role=Role.marketer)  # fmt: skip
    sign_in(client, marketer.member)
    answer = form(client, "/leads", f"/leads/{ann.id}/not-a-lead")
    assert "marketers cannot remove leads" in client.get(answer.location).text
    assert emails(session) == {"ann@acme.example"}


def test_another_workspaces_lead_is_not_found(
    client: FlaskClient, session: Session, admin: Mailbox
) -> None:
    other = WorkspaceFactory(domain="other.example")
    outsider = MailboxFactory(workspace=other, email="olga@other.example", role=Role.admin)
    conversation(session, outsider, "ann@acme.example")
    ann = lead(session, "ann@acme.example")
    assert ann is not None
    sign_in(client, admin.member)
    assert form(client, "/leads", f"/leads/{ann.id}/not-a-lead").status_code == 404
    assert emails(session) == {"ann@acme.example"}


def test_the_not_a_lead_partial_posts_to_the_route(
    client: FlaskClient, session: Session, admin: Mailbox
) -> None:
    conversation(session, admin, "ann@acme.example")
    ann = lead(session, "ann@acme.example")
    assert ann is not None
    sign_in(client, admin.member)
    with client.application.test_request_context():
        from flask import g, render_template

        g.member = admin.member
        html = render_template("leads/_not_a_lead.html", lead=ann, me=admin.member)
    assert f'action="/leads/{ann.id}/not-a-lead"' in html
    assert 'name="csrf_token"' in html
    assert 'value="domain"' in html  # admins may block the domain


# --- a rep's touch ----------------------------------------------------------------------


def test_a_lead_a_rep_touches_is_no_longer_new_from_mail(
    client: FlaskClient, session: Session, rep: Mailbox
) -> None:
    conversation(session, rep, "a@acme.example", "b@acme.example")
    a, b = lead(session, "a@acme.example"), lead(session, "b@acme.example")
    assert a is not None
    assert b is not None
    assert (a.needs_review, b.needs_review) == (True, True)
    scope = Scope(session, rep.workspace_id)
    bulk_update(scope, [a.id], BulkChange(add_tag="hot"), rep.member, NOW)
    session.commit()
    session.refresh(a)
    session.refresh(b)
    assert (a.needs_review, b.needs_review) == (False, True)
    sign_in(client, rep.member)
    page = client.get("/leads?review=1").text
    assert "b@acme.example" in page
    assert "a@acme.example" not in page


# --- the blocklist and settings pages ---------------------------------------------------


def test_admins_block_and_unblock_on_the_settings_page(
    client: FlaskClient, session: Session, admin: Mailbox, rep: Mailbox
) -> None:
    conversation(session, rep, "x@spam.example", "y@spam.example")
    sign_in(client, admin.member)
    answer = form(client, "/settings/leads", "/settings/leads/blocklist", pattern="Spam.Example")
    page = client.get(answer.location).text
    assert "Blocked @spam.example: removed 2 leads no one had worked on." in page
    assert emails(session) == set()
    again = form(client, "/settings/leads", "/settings/leads/blocklist", pattern="@spam.example")
    assert "@spam.example was already blocked." in client.get(again.location).text
    bad = form(client, "/settings/leads", "/settings/leads/blocklist", pattern="@co.uk")
    assert bad.status_code == 422
    assert "public suffix" in bad.text
    assert 'value="@co.uk"' in bad.text  # what was typed is kept
    row = session.scalars(select(BlockedAddress)).one()
    form(client, "/settings/leads", f"/settings/leads/blocklist/{row.id}/delete")
    assert count(session, BlockedAddress) == 0


def test_a_policy_change_re_runs_capture_in_the_clock_and_says_how_many_leads(
    client: FlaskClient, session: Session, admin: Mailbox, db: Database, settings: Settings
) -> None:
    sync(session, admin, mail("Pat <pat@prospect.example>", "sales@team.example"),
         mail("zed@newco.example", ADMIN, thread="t2"))  # fmt: skip
    sign_in(client, admin.member)
    clock = Runtime(db, settings, workers=1)
    job = next(j for j in jobs() if j.id == "recapture_leads")
    bad = form(client, "/settings/leads", "/settings/leads", lead_policy="conversations",
               lead_inboxes="sales@team.example, not an address")  # fmt: skip
    assert bad.status_code == 422
    assert "not an address" in bad.text
    run_job(clock, job)
    assert emails(session) == set()
    answer = form(client, "/settings/leads", "/settings/leads", lead_policy="conversations",
                  lead_inboxes="Sales@Team.example")  # fmt: skip
    page = client.get(answer.location).text
    assert "being applied to the mail already synced" in page
    assert "Applying these rules" in page
    assert emails(session) == set()  # the web request only asked
    run_job(clock, job)
    assert emails(session) == {"pat@prospect.example"}
    assert "The last change made 1 new lead " in client.get("/settings/leads").text
    form(client, "/settings/leads", "/settings/leads", lead_policy="all_mail",
         lead_inboxes="sales@team.example")  # fmt: skip
    run_job(clock, job)
    assert emails(session) == {"pat@prospect.example", "zed@newco.example"}
    workspace = session.get_one(Workspace, admin.workspace_id)
    session.refresh(workspace)
    assert (workspace.lead_policy, workspace.lead_inboxes) == (
        LeadPolicy.all_mail,
        ["sales@team.example"],
    )
    assert workspace.recapture_from is None
    assert workspace.recapture_created == 1
    clock.stop()


def test_reps_see_the_settings_but_change_nothing(
    client: FlaskClient, session: Session, rep: Mailbox, workspace: Workspace
) -> None:
    BlockedAddressFactory(workspace=workspace, pattern="@xn--bcher-kva.de")
    sign_in(client, rep.member)
    page = client.get("/settings/leads")
    assert page.status_code == 200
    assert "@bücher.de" in page.text
    assert "Only admins change these settings." in page.text
    assert "Remove" not in page.text
    token = csrf_token(page.text)
    answer = client.post("/settings/leads", data={"csrf_token": token, "lead_policy": "all_mail"})
    assert answer.status_code == 403
    answer = client.post(
        "/settings/leads/blocklist", data={"csrf_token": token, "pattern": "x@y.z"}
    )
    assert answer.status_code == 403
    assert count(session, BlockedAddress) == 1


# --- the API -----------------------------------------------------------------------------


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_the_blocklist_api(
    client: FlaskClient, session: Session, admin: Mailbox, rep: Mailbox
) -> None:
    conversation(session, rep, "x@spam.example")
    auth = bearer(api_token(admin.member))
    created = client.post("/api/v1/blocklist", json={"pattern": "@Spam.example"}, headers=auth)
    assert created.status_code == 201
    body = created.get_json()
    assert (body["pattern"], body["kind"]) == ("@spam.example", "domain")
    assert body["cleanup"]["removed"] == ["x@spam.example"]
    again = client.post("/api/v1/blocklist", json={"pattern": "@spam.example"}, headers=auth)
    assert (again.status_code, again.get_json()["id"]) == (200, body["id"])
    bad = client.post("/api/v1/blocklist", json={"pattern": "not an address"}, headers=auth)
    assert bad.status_code == 422
    assert "pattern" in bad.get_json()["error"]["fields"]
    missing = client.post("/api/v1/blocklist", json={}, headers=auth)
    assert missing.status_code == 422
    listed = client.get("/api/v1/blocklist", headers=auth).get_json()["blocklist"]
    assert [b["pattern"] for b in listed] == ["@spam.example"]
    as_rep = bearer(api_token(rep.member))
    assert client.get("/api/v1/blocklist", headers=as_rep).status_code == 200
    assert client.post("/api/v1/blocklist", json={"pattern": "a@b.example"},
                       headers=as_rep).status_code == 403  # fmt: skip
    assert client.delete(f"/api/v1/blocklist/{body['id']}", headers=as_rep).status_code == 403
    assert client.delete(f"/api/v1/blocklist/{body['id']}", headers=auth).status_code == 204
    assert client.delete(f"/api/v1/blocklist/{body['id']}", headers=auth).status_code == 404


def test_the_not_a_lead_api(client: FlaskClient, session: Session, admin: Mailbox) -> None:
    conversation(session, admin, "ann@acme.example", "bo@acme.example")
    ann = lead(session, "ann@acme.example")
    assert ann is not None
    auth = bearer(api_token(admin.member))
    bad = client.post(f"/api/v1/leads/{ann.id}/not-a-lead", json={"block": "planet"}, headers=auth)
    assert bad.status_code == 422
    assert bad.get_json()["error"]["fields"] == {"block": "unknown choice"}
    answer = client.post(f"/api/v1/leads/{ann.id}/not-a-lead", json={"block": "domain"},
                         headers=auth)  # fmt: skip
    assert answer.status_code == 200
    assert answer.get_json() == {
        "removed": ["ann@acme.example", "bo@acme.example"],
        "blocked": ["@acme.example"],
        "kept": [],
    }
    assert client.post(f"/api/v1/leads/{ann.id}/not-a-lead", headers=auth).status_code == 404


def test_the_api_never_reaches_another_workspace(
    client: FlaskClient, session: Session, admin: Mailbox
) -> None:
    other = WorkspaceFactory(domain="other.example")
    outsider = MailboxFactory(workspace=other, email="olga@other.example", role=Role.admin)
    conversation(session, outsider, "ann@acme.example")
    ann = lead(session, "ann@acme.example")
    assert ann is not None
    blocked = BlockedAddressFactory(workspace=other, pattern="@spam.example")
    auth = bearer(api_token(admin.member))
    assert client.post(f"/api/v1/leads/{ann.id}/not-a-lead", headers=auth).status_code == 404
    assert client.delete(f"/api/v1/blocklist/{blocked.id}", headers=auth).status_code == 404
    assert client.get("/api/v1/blocklist", headers=auth).get_json() == {"blocklist": []}
    assert emails(session) == {"ann@acme.example"}
    assert count(session, BlockedAddress) == 1


def test_a_stage_move_by_a_person_counts_as_a_touch_and_a_rule_does_not(
    session: Session, rep: Mailbox
) -> None:
    from inboxcrm.leads.moves import move_lead
    from inboxcrm.stages.models import ChangeSource
    from inboxcrm.stages.service import list_stages

    conversation(session, rep, "a@acme.example", "b@acme.example")
    a, b = lead(session, "a@acme.example"), lead(session, "b@acme.example")
    assert a is not None
    assert b is not None
    scope = Scope(session, rep.workspace_id)
    mql = list_stages(scope)[1]
    move_lead(scope, a, mql, source=ChangeSource.label, now=NOW)
    move_lead(scope, b, mql, source=ChangeSource.rule, now=NOW)
    session.commit()
    assert (a.needs_review, b.needs_review) == (False, True)
