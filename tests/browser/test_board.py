from __future__ import annotations

import decimal
from collections.abc import Callable
from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.models import Lead
from tests.factories import LeadFactory, MemberFactory
from tests.support.stages import stages


def column(page: Page, stage_id: int):  # type: ignore[no-untyped-def]
    return page.locator(f'.column[data-stage="{stage_id}"]')


def test_drag_a_card_to_another_column(
    page: Page,
    live_server: str,
    session: Session,
    tmp_path: Path,
    sign_in_as: Callable[[Member], None],
) -> None:
    rep = MemberFactory(name="Rita Rep")
    named = stages(session, rep)
    ada = LeadFactory(owner=rep, name="Ada Lovelace", deal_value=decimal.Decimal("1200"))
    LeadFactory(owner=rep, name="Bo Diddley")
    sign_in_as(rep)
    # Every column in view: a drag that scrolls its own container is not what this tests.
    page.set_viewport_size({"width": 2400, "height": 900})
    page.goto(f"{live_server}/board")

    card = page.locator(f'.board-card[data-lead="{ada.id}"]')
    mql = column(page, named["MQL"].id)
    expect(mql.locator("[data-count]")).to_have_text("0")
    card.drag_to(mql)
    expect(mql.locator(".board-card")).to_have_count(1)
    expect(mql.locator("[data-count]")).to_have_text("1")
    expect(mql.locator("[data-total]")).to_have_text("$1,200")
    expect(column(page, named["Lead"].id).locator("[data-count]")).to_have_text("1")

    # A lost stage asks for a reason first: the card's form opens instead of a move.
    bo = page.locator(".board-card", has_text="Bo Diddley")
    bo.drag_to(column(page, named["Lost"].id))
    reason = page.get_by_label("Lost reason for Bo Diddley")
    expect(reason).to_be_visible()
    expect(reason).to_be_focused()
    expect(page.locator("[data-board-error]")).to_contain_text("Say why the deal was lost")
    page.screenshot(path=str(tmp_path / "board.png"), full_page=True)

    session.expire_all()
    moved = session.get(Lead, ada.id)
    assert moved is not None
    assert moved.stage.name == "MQL"
    assert session.query(Lead).filter_by(name="Bo Diddley").one().stage.name == "Lead"

    page.reload()
    expect(column(page, named["MQL"].id).locator(".board-card")).to_contain_text("Ada Lovelace")


def test_move_a_card_with_the_keyboard(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    LeadFactory(owner=rep, name="Cy Young")
    sign_in_as(rep)
    page.goto(f"{live_server}/board")

    stage = page.get_by_label("Stage for Cy Young")
    stage.focus()
    stage.select_option(label="Lost")
    reason = page.get_by_label("Lost reason for Cy Young")
    expect(reason).to_be_visible()
    page.keyboard.press("Tab")
    expect(reason).to_be_focused()
    page.keyboard.type("Chose a competitor")
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_have_text("Moved to Lost.")
    expect(column(page, named["Lost"].id).locator(".board-card")).to_contain_text("Cy Young")
    session.expire_all()
    lead = session.query(Lead).filter_by(name="Cy Young").one()
    assert lead.stage.name == "Lost"
    assert lead.lost_reason == "Chose a competitor"
