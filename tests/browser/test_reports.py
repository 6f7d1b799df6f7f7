"""The reports page in Chromium: the definitions beside the figures, and a period that
cannot be read shown again with what to fix."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from tests.factories import LeadFactory, MemberFactory


def test_a_backwards_period_is_shown_again_with_the_error(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    marketer = MemberFactory(role=Role.marketer)
    LeadFactory(owner=marketer)
    sign_in_as(marketer)
    page.get_by_role("link", name="Reports").click()
    expect(page.locator("[data-definition=conversion]")).to_contain_text(
        "Each row follows one cohort"
    )
    page.get_by_label("From").fill("2026-03-31")
    page.get_by_label("To").fill("2026-03-01")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("alert")).to_have_text(
        "From (2026-03-31) is after To (2026-03-01): choose a start on or before the end"
    )
    expect(page.get_by_label("From")).to_have_value("2026-03-31")
    page.get_by_label("From").fill("2026-02-01")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("[data-definition=entered]")).to_contain_text(
        "from 2026-02-01 to 2026-03-01"
    )
