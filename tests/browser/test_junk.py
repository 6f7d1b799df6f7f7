from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.models import BlockedAddress, Lead
from tests.factories import MailboxFactory, WorkspaceFactory
from tests.support.synced import mail, sync


def test_a_rep_clears_junk_from_mail_in_bulk(
    page: Page, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    box = MailboxFactory(
        workspace=WorkspaceFactory(domain="team.example"), email="rita@team.example"
    )
    sync(
        session,
        box,
        mail(box.email, "x@spam.example, y@spam.example, Nina <nina@vandelay.example>",
             sent=True),
    )  # fmt: skip
    sign_in_as(box.member)
    rows = page.locator("table.leads tbody tr")
    expect(rows).to_have_count(3)
    expect(page.locator(".badge.new")).to_have_count(3)
    junk = page.get_by_role("button", name="Not a lead")
    expect(junk).to_be_disabled()
    page.get_by_label("Select x@spam.example").check()
    page.get_by_label("Select y@spam.example").check()
    page.get_by_label("Also block").select_option("address")
    # The first time the rep has second thoughts; the second time they confirm.
    page.once("dialog", lambda dialog: dialog.dismiss())
    junk.click()
    expect(rows).to_have_count(3)
    page.once("dialog", lambda dialog: dialog.accept())
    junk.click()
    expect(page.get_by_role("status")).to_contain_text("Removed 2 leads")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Nina")
    session.expire_all()
    assert [lead.email for lead in session.scalars(select(Lead)).unique()] == [
        "nina@vandelay.example"
    ]
    assert set(session.scalars(select(BlockedAddress.pattern))) == {
        "x@spam.example",
        "y@spam.example",
    }
