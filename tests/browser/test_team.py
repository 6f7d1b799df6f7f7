"""The team page in Chromium: an admin invites, changes a role and removes a rep whose
leads someone takes; a rep sees the team and no controls."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.leads.models import Lead
from tests.factories import LeadFactory, MemberFactory, WorkspaceFactory


def test_an_admin_runs_the_team_from_its_page(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    workspace = WorkspaceFactory(name="Northwind", domain="northwind.io")
    ava = MemberFactory(
        workspace=workspace, role=Role.admin, name="Ava Reed", email="ava@northwind.io"
    )
    ben = MemberFactory(
        workspace=workspace, role=Role.rep, name="Ben Okafor", email="ben@northwind.io"
    )
    mia = MemberFactory(
        workspace=workspace, role=Role.marketer, name="Mia Chen", email="mia@northwind.io"
    )
    leads = [LeadFactory(owner=ben) for _ in range(2)]
    sign_in_as(ava)
    page.get_by_role("link", name="Team").click()
    expect(page.get_by_role("heading", name="Team")).to_be_visible()

    page.get_by_label("Email").fill("cy@northwind.io")
    page.get_by_role("button", name="Invite").click()
    expect(page.get_by_role("status")).to_contain_text("Invited cy@northwind.io as rep")
    expect(page.get_by_role("listitem").filter(has_text="cy@northwind.io")).to_be_visible()

    mia_row = page.locator('tr[data-member="mia@northwind.io"]')
    mia_row.get_by_label("Role of Mia Chen").select_option("rep")
    mia_row.get_by_role("button", name="Change").click()
    expect(page.get_by_role("status")).to_contain_text("Mia Chen is now a rep.")

    page.get_by_role("link", name="Remove Ben Okafor").click()
    expect(page.get_by_text("Ben Okafor owns 2 leads. Who takes them?")).to_be_visible()
    page.get_by_role("combobox", name="Who takes them?").select_option(label="Mia Chen (rep)")
    page.get_by_role("button", name="Remove Ben Okafor").click()
    expect(page.get_by_role("status")).to_contain_text("their 2 leads are now Mia Chen's")
    expect(page.locator('tr[data-member="ben@northwind.io"]')).to_have_count(0)
    session.expire_all()
    assert {session.get_one(Lead, lead.id).owner_id for lead in leads} == {mia.id}


def test_a_rep_sees_the_team_and_no_controls(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    workspace = WorkspaceFactory(name="Northwind", domain="northwind.io")
    MemberFactory(workspace=workspace, role=Role.admin, name="Ava Reed", email="ava@northwind.io")
    ben = MemberFactory(
        workspace=workspace, role=Role.rep, name="Ben Okafor", email="ben@northwind.io"
    )
    sign_in_as(ben)
    page.goto(f"{live_server}/team")
    expect(page.get_by_text("Only admins change the team.")).to_be_visible()
    expect(page.locator('tr[data-member="ava@northwind.io"]')).to_contain_text("admin")
    expect(page.get_by_role("button", name="Invite")).to_have_count(0)
    expect(page.get_by_role("link", name="Remove Ava Reed")).to_have_count(0)
