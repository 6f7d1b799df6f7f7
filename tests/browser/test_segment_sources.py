"""The builder offers a campaign's email as what an activity came from: the marketer picks
"email to them (received)" from campaign Spring, sees who received it, switches to
"opened" and sees no one (nobody opened it), and the saved segment explains itself."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.db import utcnow
from inboxcrm.segments.models import Segment
from tests.support.campaigns import Campaigns, dispatch_all

pytestmark = pytest.mark.google


def test_a_marketer_picks_who_received_and_who_opened_a_campaign(
    page: Page,
    live_server: str,
    session: Session,
    campaigns: Campaigns,
    sign_in_as: Callable[[Member], None],
) -> None:
    c = campaigns
    ann = c.outbox.lead(name="Ann Archer")
    c.outbox.lead(name="Bob Baker")
    c.unpaced()
    spring = c.launch(c.draft("Spring"))
    assert dispatch_all(c.outbox.runtime, utcnow()).sent == 2
    c.outbox.lead(name="Cid Later")  # came after the campaign: received nothing
    sign_in_as(c.admin)

    page.goto(f"{live_server}/segments/new")
    count = page.locator("[data-count]")
    expect(count).to_have_text("3")
    page.get_by_role("button", name="Add condition").click()
    row = page.locator("[data-condition]").first
    row.get_by_label("Field").select_option("activity")
    row.get_by_label("Activity").select_option("message_out")
    row.get_by_label("From").select_option(label="campaign Spring")
    expect(count).to_have_text("2")
    expect(page.locator("[data-leads]")).not_to_contain_text("Cid Later")
    row.get_by_label("Activity").select_option("open")
    expect(count).to_have_text("0")
    expect(row.get_by_label("From")).to_have_value(f"campaign:{spring.id}")
    row.get_by_label("Not").check()
    expect(count).to_have_text("3")

    page.get_by_label("Segment name").fill("Did not open Spring")
    page.get_by_role("button", name="Save segment").click()
    expect(page.get_by_role("status")).to_have_text("Segment Did not open Spring saved.")
    session.expire_all()
    saved = session.query(Segment).filter_by(name="Did not open Spring").one()
    assert saved.filter == {"and": [{"not": {"field": "activity", "kind": "open", "op": "ever",
                                             "of": {"campaign": spring.id}}}]}  # fmt: skip
    page.goto(f"{live_server}/segments/{saved.id}/why?lead={ann.id}")
    expect(page.locator("body")).to_contain_text("opened campaign “Spring”")
