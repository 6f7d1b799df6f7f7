"""Keyboard and search habits in Chromium: `/` searches from any page's top bar, `j`/`k`
walk the leads table and Enter opens the lead, `e` edits it, `?` lists the shortcuts."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from tests.factories import LeadFactory, MemberFactory


def test_a_rep_works_the_leads_table_from_the_keyboard(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    rep = MemberFactory(role=Role.rep)
    colleague = MemberFactory(workspace=rep.workspace)
    LeadFactory(owner=rep, name="Ada Lovelace")
    second = LeadFactory(owner=rep, name="Bo Diddley")
    LeadFactory(owner=colleague, name="Zed Colleague")
    sign_in_as(rep)

    page.goto(f"{live_server}/board")  # the search is in the top bar of every page
    page.keyboard.press("/")
    search = page.get_by_role("searchbox", name="Find a lead")
    expect(search).to_be_focused()
    search.fill("zed")
    search.press("Enter")
    expect(page.locator("tr[data-row]")).to_have_count(1)  # the whole team's, not just mine
    expect(page.locator("tr[data-row]")).to_contain_text("Zed Colleague")

    page.goto(f"{live_server}/leads?sort=name")
    page.keyboard.press("j")
    expect(page.locator("tr[data-row].current")).to_contain_text("Ada Lovelace")
    page.keyboard.press("j")
    page.keyboard.press("j")  # past the end stays on the last
    page.keyboard.press("k")
    page.keyboard.press("j")
    expect(page.locator("tr[data-row].current")).to_contain_text("Bo Diddley")
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{live_server}/leads/{second.id}")

    page.keyboard.press("e")
    expect(page.locator("[data-contact]").get_by_label("Name", exact=True)).to_be_focused()
    page.keyboard.press("Escape")

    page.keyboard.press("?")
    dialog = page.get_by_role("dialog", name="Keyboard shortcuts")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("Next and previous lead in the leads table")
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()


def test_typing_in_a_field_is_never_a_shortcut(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    rep = MemberFactory()
    LeadFactory(owner=rep, name="Ada Lovelace")
    sign_in_as(rep)
    page.goto(f"{live_server}/leads")
    search = page.get_by_role("searchbox", name="Find a lead")
    search.focus()
    page.keyboard.type("j/k?e")
    expect(search).to_have_value("j/k?e")
    expect(page.locator("tr[data-row].current")).to_have_count(0)
    expect(page.get_by_role("dialog")).to_be_hidden()
