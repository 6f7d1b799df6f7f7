"""Text from mail with no place to break (a 2,000-character word in a name, a subject and
an attachment's filename) wraps: the pages stay as wide as the window."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from tests.factories import (
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    MessageFactory,
    ThreadFactory,
    ThreadLeadFactory,
)

WIDTH = 1280  # the viewport of the `page` fixture
# Longer than the columns hold (SQLite, which the browser tests run on, does not cut):
# whatever mail brings that does fit, fits too.
NAME, SUBJECT, FILENAME = ("N" + "a" * 1999), ("S" + "u" * 1999), ("F" * 1996 + ".pdf")


def scroll_width(page: Page) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth"))


def scrolled_tables(page: Page) -> int:
    """Table wrappers that scroll sideways: a table too wide for the page."""
    return int(
        page.evaluate(
            "[...document.querySelectorAll('.table-wrap')]"
            ".filter(w => w.scrollWidth > w.clientWidth + 1).length"
        )
    )


def test_a_long_word_from_mail_keeps_the_pages_at_the_window_width(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    rep = MemberFactory(name="Rita Rep")
    lead = LeadFactory(owner=rep, email="ann@acme.example", company="Acme", tags=["t" * 60])
    lead.name = NAME
    thread = ThreadFactory(mailbox=MailboxFactory(member=rep), subject=SUBJECT)
    ThreadLeadFactory(thread=thread, lead=lead)
    attachment = {"filename": FILENAME, "mime_type": "application/pdf", "size": 2048}
    MessageFactory(
        thread=thread,
        from_addr=f"{NAME} <ann@acme.example>",
        snippet="Attached " + "w" * 400,
        attachments=[attachment],
    )
    session.commit()
    sign_in_as(rep)

    pages = {
        "lead page": f"/leads/{lead.id}",
        "leads table": "/leads?owner=any",
        "company page": f"/companies/{lead.company_id}",
    }
    for what, path in pages.items():
        page.goto(f"{live_server}{path}")
        expect(page.get_by_text(NAME[:40], exact=False).first).to_be_visible()
        assert scroll_width(page) <= WIDTH, what
        assert scrolled_tables(page) == 0, what
    page.goto(f"{live_server}/leads/{lead.id}")
    expect(page.get_by_text(FILENAME[:40], exact=False)).to_be_visible()
    expect(page.get_by_role("heading", name=SUBJECT)).to_be_visible()
    assert scroll_width(page) <= WIDTH
