from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, MailboxStatus
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.mail.jobs import sync_due
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS


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


@pytest.mark.slow  # a sync slowed down in real time, watched as the page polls it
def test_the_gmail_page_follows_the_first_sync_live(
    google_settings: Settings,
    page: Page,
    db: Database,
    sandbox: RunningSandbox,
    live_server_for: Callable[[Settings], str],
) -> None:
    control = f"{sandbox.url}/_sandbox"
    requests.post(f"{control}/reset", json={"seed": "demo"}, timeout=10)
    base = live_server_for(google_settings)
    page.goto(f"{base}/signin")
    page.get_by_role("link", name="Sign in with Google").click()
    page.get_by_role("link", name="Ava Reed").click()
    page.get_by_role("button", name="Allow").click()
    page.goto(f"{base}/mailboxes")
    status = page.locator("[data-sync-status]")
    expect(status).to_contain_text("Queued")

    # Slow Gmail down so the page has a sync in progress to show, then let the clock tick.
    slow = {"kind": "slow", "delay": 0.01, "count": 100_000, "operation": "messages.get"}
    requests.post(f"{control}/faults", json=slow, timeout=10)
    runtime = Runtime(db, google_settings, workers=1)
    try:
        sync_due(runtime, utcnow(), SYNC_STEPS)
        expect(status).to_contain_text("Syncing:", timeout=20_000)  # no reload: it polls
        expect(status.get_by_role("progressbar")).to_be_visible()
        requests.delete(f"{control}/faults", timeout=10)
        expect(status).to_contain_text("up to date as of", timeout=60_000)
    finally:
        runtime.stop()
    expect(page.locator(".badge")).to_have_text("Connected")
