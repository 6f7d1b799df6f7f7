"""A suppression on the lead page in Chromium: the lead unsubscribes in their own browser
(the confirm page, one button), the rep sees why on the lead page, and a manual "Do not
email" is set and lifted by an admin."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.outbox.unsubscribe import Recipient
from tests.factories import LeadFactory, MemberFactory


def test_an_unsubscribe_and_a_do_not_email_show_on_the_lead_page(
    app: Flask,
    page: Page,
    live_server: str,
    session: Session,
    sign_in_as: Callable[[Member], None],
) -> None:
    admin = MemberFactory(role=Role.admin, name="Ada Admin")
    nina = LeadFactory(owner=admin, name="Nina Berg", email="nina@vandelay.example")
    leo = LeadFactory(owner=admin, name="Leo Park", email="leo@initech.example")
    token = Recipient(nina.workspace_id, nina.id, nina.email, 0, "send-1").token(
        str(app.secret_key)
    )
    # Nina follows the footer's link: the page asks first (a scanner's GET does nothing).
    page.goto(f"{live_server}/u/{token}")
    expect(page.get_by_role("heading", name="Unsubscribe")).to_be_visible()
    page.get_by_role("button", name="Unsubscribe").click()
    expect(page.locator("[data-unsubscribed]")).to_contain_text("nina@vandelay.example")

    sign_in_as(admin)
    page.goto(f"{live_server}/leads/{nina.id}")
    panel = page.locator("section.panels [data-suppression]")
    expect(panel.locator('[data-suppressed="nina@vandelay.example"]')).to_contain_text(
        "unsubscribed"
    )
    expect(panel.locator("[data-lift]")).to_have_count(0)  # never lifted

    page.goto(f"{live_server}/leads/{leo.id}")
    panel = page.locator("section.panels [data-suppression]")
    expect(panel.locator("[data-not-suppressed]")).to_be_visible()
    panel.get_by_role("button", name="Do not email").click()
    expect(page.locator('[data-suppressed="leo@initech.example"]')).to_contain_text("Do not email")
    page.locator("[data-lift]").click()
    expect(page.locator("[data-not-suppressed]")).to_be_visible()
