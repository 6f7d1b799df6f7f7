from __future__ import annotations

import decimal
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.service import signin_token
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
    expect(stage).to_be_hidden()  # compact cards: the move control shows on focus or hover
    page.get_by_role("link", name="Cy Young").focus()
    page.keyboard.press("Tab")
    expect(stage).to_be_focused()
    stage.select_option(label="Lost")
    reason = page.get_by_label("Lost reason for Cy Young")
    expect(reason).to_be_visible()
    page.keyboard.press("Tab")
    expect(reason).to_be_focused()
    page.keyboard.type("Chose a competitor")
    page.keyboard.press("Enter")

    expect(page.get_by_role("status")).to_have_text("Moved to Lost.")
    lost = column(page, named["Lost"].id)
    expect(lost.locator("[data-count]")).to_have_text("1")
    lost.get_by_role("button", name="Show or hide Lost").click()  # folded: opened to see
    expect(lost.locator(".board-card")).to_contain_text("Cy Young")
    session.expire_all()
    lead = session.query(Lead).filter_by(name="Cy Young").one()
    assert lead.stage.name == "Lost"
    assert lead.lost_reason == "Chose a competitor"


def test_every_open_stage_fits_a_laptop_and_the_closing_ones_fold(
    browser: Browser, app: Flask, live_server: str, session: Session
) -> None:
    rep = MemberFactory()
    named = stages(session, rep)
    for name in ("Lead", "MQL", "SAL", "SQL", "SQO", "Won", "Lost"):
        LeadFactory(
            owner=rep,
            name=f"{name} person",
            stage_id=named[name].id,
            company="A Rather Long Company Name Ltd",
            deal_value=decimal.Decimal("125000"),
        )
    token = signin_token(rep, str(app.secret_key))
    session.commit()
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{live_server}/signin/{token}")
        page.get_by_role("button", name="Sign in").click()
        page.goto(f"{live_server}/board")
        for name in ("Lead", "MQL", "SAL", "SQL", "SQO"):
            box = column(page, named[name].id).bounding_box()
            assert box is not None
            assert box["x"] >= 0
            assert box["x"] + box["width"] <= 1280, name  # no sideways scrolling to see it
            expect(column(page, named[name].id).get_by_text(f"{name} person")).to_be_visible()
        won = column(page, named["Won"].id)
        expect(won.get_by_text("Won person")).to_be_hidden()  # folded
        expect(won.locator("[data-count]")).to_have_text("1")
        won.get_by_role("button", name="Show or hide Won").click()
        expect(won.get_by_text("Won person")).to_be_visible()
        page.reload()  # remembered
        expect(column(page, named["Won"].id).get_by_text("Won person")).to_be_visible()
        card = column(page, named["SQL"].id).locator(".board-card")
        expect(card.get_by_role("button", name="Move")).to_be_hidden()
        card.hover()
        expect(card.get_by_role("button", name="Move")).to_be_visible()
    finally:
        context.close()
