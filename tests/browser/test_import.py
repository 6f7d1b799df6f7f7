"""An import in a real browser: from the leads table's Import link, the file chosen, a
column's field changed, the dry run's refused row, the import's progress while the
clock runs it, and the new leads on the table."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.db import Database, utcnow
from inboxcrm.exchange.imports import work
from inboxcrm.exchange.models import LeadImport
from tests.factories import LeadFactory, MemberFactory


def test_an_admin_imports_a_file_and_watches_it_run(
    page: Page,
    live_server: str,
    db: Database,
    session: Session,
    tmp_path: Path,
    sign_in_as: Callable[[Member], None],
) -> None:
    admin = MemberFactory(role=Role.admin)
    LeadFactory(owner=admin, name="Already Here")
    file = tmp_path / "contacts.csv"
    file.write_text(
        "Email,Full name,Shoe size\r\nann@acme.example,Ann Lee,38\r\nbroken,Bob,44\r\n",
        encoding="utf-8-sig",
    )
    sign_in_as(admin)
    page.get_by_role("link", name="Import", exact=True).click()
    page.get_by_label("CSV file").set_input_files(str(file))
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_label("Full name becomes")).to_have_value("name")
    expect(page.get_by_label("Shoe size becomes")).to_have_value("note")
    page.get_by_label("Shoe size becomes").select_option("ignore")
    page.get_by_role("button", name="Dry run").click()
    expect(page.locator('[data-count="created"]')).to_have_text("1")
    expect(page.locator('tr[data-row="3"]')).to_contain_text("'broken' is not an email address")
    page.get_by_role("button", name="Import", exact=True).click()
    progress = page.locator("[data-import-progress]")
    expect(progress).to_be_visible()
    imp = session.query(LeadImport).one()
    assert work(db, imp.id, utcnow())  # the clock's tick, while the page is open
    expect(page.locator("[data-state]")).to_have_text("done")  # the page reloaded by itself
    expect(progress).to_be_hidden()
    page.goto(f"{live_server}/leads?owner=any")
    expect(page.get_by_text("Ann Lee")).to_be_visible()
