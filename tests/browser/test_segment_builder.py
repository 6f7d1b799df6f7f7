from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.db import utcnow
from inboxcrm.leads.models import ActivityKind
from inboxcrm.segments.models import Segment
from tests.factories import ActivityFactory, LeadFactory, MemberFactory


def test_a_marketer_builds_a_segment_and_watches_the_count(
    page: Page,
    live_server: str,
    session: Session,
    tmp_path: Path,
    sign_in_as: Callable[[Member], None],
) -> None:
    marketer = MemberFactory(role=Role.marketer, name="Mia Marketer")
    rep = MemberFactory(workspace=marketer.workspace, name="Rita Rep")
    ann = LeadFactory(owner=rep, name="Ann Archer", title="CFO", tags=["vip"])
    LeadFactory(owner=rep, name="Bob Baker", title="CTO", tags=["vip"])
    LeadFactory(owner=rep, name="Cid Cole")
    ActivityFactory(lead=ann, kind=ActivityKind.reply, at=utcnow() - dt.timedelta(days=2))
    sign_in_as(marketer)

    page.goto(f"{live_server}/segments/new")
    count = page.locator("[data-count]")
    expect(count).to_have_text("3")  # no conditions yet: every lead

    page.get_by_role("button", name="Add condition").click()
    row = page.locator("[data-condition]").first
    row.get_by_label("Field").select_option("tag")
    row.get_by_label("Tag value").select_option("vip")
    expect(count).to_have_text("2")
    expect(page.locator("[data-leads] li")).to_have_count(2)

    # A group: any of (title is CFO, a reply in the last 7 days), then negated.
    page.get_by_role("button", name="Add group").first.click()
    group = page.locator("fieldset[data-group] fieldset[data-group]")
    inner = group.locator("[data-condition]").first
    inner.get_by_label("Field").select_option("title")
    inner.get_by_label("Operator").select_option("is")
    inner.get_by_label("Title value").fill("CFO")
    expect(count).to_have_text("1")
    group.get_by_label("Not").first.check()
    expect(count).to_have_text("1")
    expect(page.locator("[data-leads]")).to_contain_text("Bob Baker")

    # A wrong value says what is wrong, and the count comes back when it is fixed.
    inner.get_by_label("Title value").fill("")
    expect(page.locator("[data-filter-error]")).to_contain_text("needs a value")
    inner.get_by_label("Title value").fill("CFO")
    expect(page.locator("[data-filter-error]")).to_be_hidden()

    page.get_by_label("Segment name").fill("VIPs but not the CFO")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("status")).to_have_text("Segment VIPs but not the CFO saved.")
    page.screenshot(path=str(tmp_path / "builder.png"), full_page=True)

    session.expire_all()
    saved = session.query(Segment).one()
    assert saved.filter == {
        "and": [
            {"field": "tag", "op": "has", "value": "vip"},
            {"not": {"or": [{"field": "title", "op": "is", "value": "CFO"}]}},
        ]
    }

    # Reopened, it shows what was saved and the same count.
    page.goto(f"{live_server}/segments")
    expect(page.locator("tr[data-segment] [data-count]")).to_have_text("1")
    page.get_by_role("link", name="VIPs but not the CFO").click()
    expect(page.locator("[data-count]")).to_have_text("1")
    reopened = page.locator("fieldset[data-group] fieldset[data-group]")
    expect(reopened.get_by_label("Not").first).to_be_checked()
    expect(page.get_by_label("Title value")).to_have_value("CFO")
