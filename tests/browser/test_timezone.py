"""A member's first page in Chromium sends the browser's timezone, and times show in it."""

from __future__ import annotations

import datetime as dt

from flask import Flask
from playwright.sync_api import Browser, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.service import signin_token
from tests.factories import LeadFactory, MemberFactory, NoteFactory


def test_the_first_page_takes_the_browsers_zone(
    browser: Browser, app: Flask, live_server: str, session: Session
) -> None:
    rep = MemberFactory(name="Ben Okafor")
    lead = LeadFactory(owner=rep)
    NoteFactory(lead=lead, body="Called", at=dt.datetime(2026, 7, 1, 12, 0, tzinfo=dt.UTC))
    token = signin_token(rep, str(app.secret_key))
    session.commit()
    context = browser.new_context(timezone_id="Asia/Tokyo", viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{live_server}/signin/{token}")
        page.get_by_role("button", name="Sign in").click()
        expect(page.locator("body[data-timezone-unknown]")).to_have_count(0)  # sent, reloaded
        page.goto(f"{live_server}/leads/{lead.id}")
        expect(page.locator("#notes")).to_contain_text("2026-07-01 21:00 JST")
        page.goto(f"{live_server}/account")
        expect(page.get_by_label("Your timezone")).to_have_value("Asia/Tokyo")
        page.get_by_label("Your timezone").select_option("Europe/Berlin")
        page.get_by_role("button", name="Save").click()
        expect(page.get_by_role("status")).to_contain_text("Times now show in Europe/Berlin.")
    finally:
        context.close()
    session.expire_all()
    assert session.get_one(Member, rep.id).timezone == "Europe/Berlin"
