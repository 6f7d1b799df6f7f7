"""A card dragged on the board in Chromium ends as the thread's stage label in Gmail."""

from __future__ import annotations

from collections.abc import Callable

import requests
from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.connection import gmail_calls
from inboxcrm.accounts.models import Mailbox, SyncState
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead
from inboxcrm.mail.jobs import sync_claimed
from inboxcrm.mail.models import Thread
from inboxcrm.runtime import Runtime, run_job
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS, jobs
from inboxcrm.stages.models import Stage
from tests.support.mail import ANSWER, PROPOSAL
from tests.support.sandbox import AVA


def test_a_dragged_card_relabels_its_thread_in_gmail(
    google_settings: Settings,
    page: Page,
    session: Session,
    db: Database,
    sandbox: RunningSandbox,
    live_server_for: Callable[[Settings], str],
) -> None:
    control = f"{sandbox.url}/_sandbox"
    for eml, labels in ((PROPOSAL, ["SENT"]), (ANSWER, ["INBOX"])):
        requests.post(
            f"{control}/deliver", json={"to": AVA, "eml": eml, "labelIds": labels}, timeout=10
        ).raise_for_status()
    base = live_server_for(google_settings)
    page.goto(f"{base}/signin")
    page.get_by_role("link", name="Sign in with Google").click()
    page.get_by_role("link", name="Ava Reed").click()
    page.get_by_role("button", name="Allow").click()
    runtime = Runtime(db, google_settings, workers=1)
    mailbox = session.scalars(select(Mailbox)).one()
    assert sync_claimed(runtime, mailbox.id, SYNC_STEPS, stop=lambda: False) is SyncState.idle
    nina = session.scalars(select(Lead)).unique().one()
    sql = session.scalars(select(Stage).where(Stage.name == "SQL")).one()

    page.set_viewport_size({"width": 2400, "height": 900})  # every column in view
    page.goto(f"{base}/board?owner=any")
    column = page.locator(f'.column[data-stage="{sql.id}"]')
    page.locator(f'.board-card[data-lead="{nina.id}"]').drag_to(column)
    expect(column.locator(".board-card")).to_contain_text("Berg, Nina")
    run_job(runtime, next(j for j in jobs() if j.id == "relabel_threads"))

    with db.session() as s:
        calls = gmail_calls(runtime, s.get_one(Mailbox, mailbox.id))
        names = {lb["id"]: lb["name"] for lb in calls.labels()}
        thread = s.scalars(select(Thread)).one()
        found = calls.users.threads().get(userId="me", id=thread.gmail_id).execute(http=calls.http)
    on_thread = {names[i] for m in found["messages"] for i in m["labelIds"]}
    assert {n for n in on_thread if n.startswith("CRM/")} == {"CRM/SQL"}
    runtime.stop()
