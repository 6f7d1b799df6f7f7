"""Notifications in Chromium: the top bar's unread count, opening one shows its lead and
reads it, "Mark all read" empties the count."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import Notice, notify
from tests.factories import LeadFactory, MemberFactory

T0 = dt.datetime(2026, 3, 2, 9, 0, tzinfo=dt.UTC)


def test_the_count_shows_opening_reads_and_all_read_clears(
    page: Page, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    rep = MemberFactory()
    nina = LeadFactory(owner=rep, name="Nina Berg")
    omar = LeadFactory(owner=rep, name="Omar Ali")
    notify(session, rep.workspace_id, [
        Notice(nina.id, NoticeKind.hot, "{lead} turned hot (score 55)", "hot:nina"),
        Notice(omar.id, NoticeKind.unsubscribe, "{lead} asked to stop receiving email", "u:omar"),
        Notice(omar.id, NoticeKind.waiting, "{lead}, a new inbound lead, has waited 45 minutes"
               " without an answer", "w:omar"),
    ], T0)  # fmt: skip
    session.commit()
    sign_in_as(rep)
    bell = page.locator("header .bell")
    expect(bell.locator("[data-unread]")).to_have_text("3")
    bell.click()
    items = page.locator(".notices li")
    expect(items).to_have_count(3)
    expect(page.locator(".notices li.unread")).to_have_count(3)
    page.get_by_role("link", name="Nina Berg turned hot (score 55)").click()
    expect(page).to_have_url(re.compile(rf"/leads/{nina.id}$"))
    expect(bell.locator("[data-unread]")).to_have_text("2")
    bell.click()
    expect(page.locator(".notices li.read")).to_have_count(1)
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator(".notices li.read")).to_have_count(3)
    expect(bell.locator("[data-unread]")).to_have_count(0)
