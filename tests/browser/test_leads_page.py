from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.models import Lead
from tests.factories import LeadFactory, MemberFactory


def test_a_rep_finds_and_moves_leads(
    page: Page, session: Session, tmp_path: Path, sign_in_as: Callable[[Member], None]
) -> None:
    rep = MemberFactory(name="Rita Rep")
    for i in range(5):
        LeadFactory(owner=rep, name=f"Fintech Person {i}", company="Cobalt Payments")
    LeadFactory(owner=rep, name="Zed Retail", company="Kestrel Retail", tags=["pilot"])
    LeadFactory(owner=MemberFactory(workspace=rep.workspace), name="Colleague Lead")
    sign_in_as(rep)

    table = page.locator("table.leads tbody tr")
    expect(table).to_have_count(6)  # "My leads" by default: not the colleague's
    expect(page.get_by_text("Colleague Lead")).to_have_count(0)

    page.get_by_label("Search").fill("kestrel")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_have_count(1)
    expect(table.first).to_contain_text("Zed Retail")
    expect(table.first).to_contain_text("pilot")

    page.get_by_label("Search").fill("cobalt")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_have_count(5)
    apply = page.get_by_role("button", name="Apply to selected")
    expect(apply).to_be_disabled()
    page.get_by_label("Select all on this page").check()
    expect(page.locator("[data-selected-count]")).to_have_text("5 selected")
    page.get_by_label("Set stage").select_option(label="SQL")
    apply.click()
    expect(page.get_by_role("status")).to_have_text("Updated 5 leads.")
    expect(page.locator("table.leads .stage").first).to_have_text("SQL")
    page.screenshot(path=str(tmp_path / "leads.png"), full_page=True)

    session.expire_all()
    stages = {lead.stage.name for lead in session.query(Lead).filter(Lead.name.like("Fintech%"))}
    assert stages == {"SQL"}
