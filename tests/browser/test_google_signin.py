from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, MailboxStatus
from inboxcrm.config import Settings


def test_sign_in_with_google_connects_gmail(
    google_settings: Settings,
    page: Page,
    session: Session,
    live_server_for: Callable[[Settings], str],
) -> None:
    base = live_server_for(google_settings)
    page.goto(f"{base}/leads")
    expect(page).to_have_url(f"{base}/signin?next=/leads")
    page.get_by_role("link", name="Sign in with Google").click()
    page.get_by_role("link", name="Ava Reed").click()  # the sandbox's account chooser
    page.get_by_role("button", name="Allow").click()  # and its consent page
    expect(page).to_have_url(f"{base}/leads")
    expect(page.get_by_text("No leads yet")).to_be_visible()
    expect(page.locator(".who")).to_contain_text("Ava Reed")
    mailbox = session.scalars(select(Mailbox)).one()
    assert (mailbox.email, mailbox.status) == ("ava.reed@northwind.io", MailboxStatus.connected)


def test_declining_consent_connects_nothing(
    google_settings: Settings,
    page: Page,
    session: Session,
    live_server_for: Callable[[Settings], str],
) -> None:
    base = live_server_for(google_settings)
    page.goto(f"{base}/signin")
    page.get_by_role("link", name="Sign in with Google").click()
    page.get_by_role("link", name="Ben Okafor").click()
    page.get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("alert")).to_contain_text("cancelled")
    assert session.scalars(select(Mailbox)).first() is None
