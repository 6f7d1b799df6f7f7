"""A campaign in Chromium: the marketer builds it on the page, sees its audience as a
number with what is left out and why, launches it, and watches the page count what the
outbox sends (its script polls the stats) without reloading."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.db import utcnow
from inboxcrm.outbox.models import SuppressionReason
from inboxcrm.outbox.suppression import Suppress, suppress
from tests.support.campaigns import Campaigns, dispatch_all

pytestmark = pytest.mark.google


def test_build_launch_and_watch_a_campaign_send(
    page: Page,
    live_server: str,
    session: Session,
    campaigns: Campaigns,
    sign_in_as: Callable[[Member], None],
) -> None:
    c = campaigns
    c.outbox.lead(name="Ann Archer")
    c.outbox.lead(name="Bob Baker")
    gone = c.outbox.lead(name="Gil Gone")
    left = Suppress(gone.email, SuppressionReason.unsubscribed, "one_click")
    suppress(session, gone.workspace_id, [left], utcnow())
    session.commit()
    c.unpaced()
    sign_in_as(c.admin)
    page.goto(f"{live_server}/campaigns")
    page.get_by_role("link", name="New campaign").click()
    page.get_by_label("Name").fill("Spring")
    page.get_by_label("Template").select_option(label="Spring offer (version 1)")
    page.get_by_label("Segment").select_option(label="Customers")
    page.get_by_role("button", name="Save draft").click()
    expect(page.locator("[data-included]")).to_have_text("2")
    expect(page.locator('[data-reason="suppressed"]')).to_contain_text("Gil Gone")
    expect(page.locator("[data-preview-subject]")).to_have_text("Spring offer for Ann")
    page.get_by_role("button", name="Launch to 2 leads").click()
    expect(page.locator("[data-state]")).to_have_text("sending")
    expect(page.locator('[data-stat="progress.sent"]')).to_have_text("0")
    dispatch_all(c.outbox.runtime, utcnow())
    # No reload: the page's script polls the stats.
    expect(page.locator('[data-stat="progress.sent"]')).to_have_text("2", timeout=20_000)
    expect(page.locator("[data-state]")).to_have_text("done", timeout=20_000)
