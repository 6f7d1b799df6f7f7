"""The scoring settings in a real browser: an admin changes a rule, a bad value is refused
with what to fix, the rescore's progress shows live and goes when the clock has done it,
and the lead's score has changed."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.db import Database, utcnow
from inboxcrm.leads.models import ActivityKind
from inboxcrm.scoring.jobs import rescore_queued
from inboxcrm.scoring.rescore import rescore
from tests.factories import ActivityFactory, LeadFactory, MemberFactory


def test_an_admin_changes_a_rule_and_watches_the_workspace_rescore(
    page: Page,
    live_server: str,
    db: Database,
    session: Session,
    sign_in_as: Callable[[Member], None],
) -> None:
    admin = MemberFactory(role=Role.admin)
    leads = [LeadFactory(owner=admin, name=f"Met Person {i}") for i in range(2)]
    for lead in leads:
        ActivityFactory(lead=lead, kind=ActivityKind.meeting, at=utcnow())
    rescore(session, admin.workspace_id, [lead.id for lead in leads], utcnow())
    session.commit()
    sign_in_as(admin)
    page.get_by_role("link", name="Scoring").click()
    expect(page.get_by_role("heading", name="Scoring")).to_be_visible()
    row = page.locator('tr[data-rule="meeting"]')
    expect(row.locator("[data-sentence]")).to_have_text(
        "+20 for an accepted meeting, halves every 45 days"
    )

    # A bad value: refused, saying what to fix, with what was typed still there
    row.get_by_label("Points of Accepted a meeting").fill("thirty")
    row.get_by_role("button", name="Save Accepted a meeting").click()
    row = page.locator('tr[data-rule="meeting"]')
    expect(row.locator('[data-error="points"]')).to_have_text(
        "points must be a whole number, not 'thirty'"
    )
    expect(row.get_by_label("Points of Accepted a meeting")).to_have_value("thirty")
    expect(page.locator("[data-rescore-progress]")).to_be_hidden()

    row.get_by_label("Points of Accepted a meeting").fill("30")
    row.get_by_role("button", name="Save Accepted a meeting").click()
    expect(page.get_by_text("Rule “Accepted a meeting” saved")).to_be_visible()
    progress = page.locator("[data-rescore-progress]")
    expect(progress).to_have_text("rescoring: 0 of 2 leads")
    expect(page.locator('tr[data-rule="meeting"] [data-sentence]')).to_have_text(
        "+30 for an accepted meeting, halves every 45 days"
    )

    assert rescore_queued(db, utcnow()) == 2  # the clock's tick, while the page is open
    expect(progress).to_be_hidden()  # the page's poll saw it finish

    page.goto(f"{live_server}/leads/{leads[0].id}")
    panel = page.locator("[data-score-panel]")
    expect(panel.get_by_role("heading", name="Score 30")).to_be_visible()
    expect(panel).to_contain_text("Accepted a meeting +30, halves every 45 days")
