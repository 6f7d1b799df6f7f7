"""The contact card edited in place, keyboard first, in Chromium, as an admin, a rep and a
marketer: each sees as editable what the permission table lets them change, and nothing
else."""

from __future__ import annotations

import decimal
from collections.abc import Callable

from playwright.sync_api import Page, expect
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.leads.models import Lead
from tests.factories import LeadFactory, MemberFactory, WorkspaceFactory


def card(page: Page):  # type: ignore[no-untyped-def]
    return page.locator("[data-contact]")


def test_an_admin_edits_every_field_from_the_keyboard(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    workspace = WorkspaceFactory()
    admin = MemberFactory(workspace=workspace, role=Role.admin, name="Ava Reed")
    rep = MemberFactory(workspace=workspace, role=Role.rep, name="Ben Okafor")
    lead = LeadFactory(owner=admin, email="zoe@zephyr.example", name="Zoe Zephyr")
    sign_in_as(admin)
    page.goto(f"{live_server}/leads/{lead.id}")

    page.keyboard.press("e")  # the first field, the name
    name = card(page).get_by_label("Name", exact=True)
    expect(name).to_be_focused()
    name.fill("Zoe Z. Zephyr")
    name.press("Enter")
    expect(card(page).get_by_role("heading")).to_contain_text("Zoe Z. Zephyr")
    expect(card(page).get_by_role("button", name="Edit name")).to_be_focused()

    card(page).get_by_role("button", name="Edit deal value").press("Enter")
    card(page).get_by_label("Deal value", exact=True).fill("12,000.50")
    card(page).get_by_label("Currency", exact=True).fill("eur")
    card(page).get_by_label("Currency", exact=True).press("Enter")
    expect(card(page).get_by_role("button", name="Edit deal value")).to_have_text("€12,000.50")

    card(page).get_by_role("button", name="Edit deal value").click()
    card(page).get_by_label("Currency", exact=True).fill("E1")
    card(page).get_by_label("Currency", exact=True).press("Enter")
    expect(card(page).get_by_role("alert")).to_have_text("Currency: three letters such as USD")
    card(page).get_by_label("Currency", exact=True).press("Escape")  # nothing saved
    expect(card(page).get_by_role("button", name="Edit deal value")).to_be_focused()
    expect(card(page).get_by_role("button", name="Edit deal value")).to_have_text("€12,000.50")

    card(page).get_by_role("button", name="Edit owner").click()
    card(page).get_by_label("Owner", exact=True).select_option(label="Ben Okafor")
    card(page).get_by_label("Owner", exact=True).press("Enter")
    expect(card(page).get_by_role("button", name="Edit owner")).to_have_text("Ben Okafor")

    card(page).get_by_role("button", name="Edit stage").click()
    card(page).get_by_label("Stage", exact=True).select_option(label="SQL")
    card(page).get_by_label("Stage", exact=True).press("Enter")
    expect(card(page).get_by_role("button", name="Edit stage")).to_have_text("SQL")

    typing = (
        ("Title", "CFO"),
        ("Phone", "+44 20 7946 0000"),
        ("Next step", "Call Tue"),
        ("Tags", "pilot, vip"),
        ("Budget", "50k"),
        ("Timezone", "Asia/Tokyo"),
    )
    for label, typed in typing:
        card(page).get_by_role("button", name=f"Edit {label.lower()}").click()
        card(page).get_by_label(label, exact=True).fill(typed)
        card(page).get_by_label(label, exact=True).press("Enter")
        expect(card(page).get_by_role("button", name=f"Edit {label.lower()}")).to_have_text(typed)
    expect(card(page).locator("[data-lead-time]")).to_contain_text("for them")

    session.expire_all()
    saved = session.get_one(Lead, lead.id)
    assert (saved.name, saved.deal_value, saved.currency) == (
        "Zoe Z. Zephyr",
        decimal.Decimal("12000.50"),
        "EUR",
    )
    assert (saved.owner_id, saved.stage.name, saved.title, saved.timezone) == (
        rep.id,
        "SQL",
        "CFO",
        "Asia/Tokyo",
    )
    assert sorted(t.name for t in saved.tags) == ["pilot", "vip"]


def test_an_address_of_another_lead_names_and_links_it(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    admin = MemberFactory(role=Role.admin)
    lead = LeadFactory(owner=admin, email="zoe@zephyr.example", name="Zoe Zephyr")
    other = LeadFactory(owner=admin, email="max@zephyr.example", name="Max Zephyr")
    sign_in_as(admin)
    page.goto(f"{live_server}/leads/{lead.id}")
    card(page).get_by_role("button", name="Edit addresses").click()
    card(page).get_by_label("Other addresses", exact=True).fill("max@zephyr.example")
    card(page).get_by_label("Other addresses", exact=True).press("Enter")
    expect(card(page).get_by_role("alert")).to_contain_text(
        "max@zephyr.example already belongs to Max Zephyr."
    )
    card(page).get_by_role("link", name="Open Max Zephyr").click()
    expect(page).to_have_url(f"{live_server}/leads/{other.id}")


def test_a_rep_edits_their_own_lead_takes_an_unowned_one_and_only_reads_another_reps(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    workspace = WorkspaceFactory()
    rep = MemberFactory(workspace=workspace, role=Role.rep, name="Ben Okafor")
    colleague = MemberFactory(workspace=workspace, role=Role.rep, name="Cy Rep")
    theirs = LeadFactory(owner=colleague, name="Their Lead")
    unowned = LeadFactory(owner=colleague, name="Free Lead")
    unowned.owner_id = None
    session.commit()
    sign_in_as(rep)

    page.goto(f"{live_server}/leads/{theirs.id}")
    expect(card(page).locator("[data-edit-open]")).to_have_count(0)
    expect(card(page)).to_contain_text("Cy Rep")
    expect(card(page).get_by_text("Press e to edit")).to_have_count(0)

    page.goto(f"{live_server}/leads/{unowned.id}")
    card(page).get_by_role("button", name="Take it").click()
    expect(card(page).get_by_role("button", name="Edit owner")).to_have_text("Ben Okafor")
    session.expire_all()
    assert session.get_one(Lead, unowned.id).owner_id == rep.id


def test_a_marketer_is_offered_details_but_no_owner_stage_or_deal(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    workspace = WorkspaceFactory()
    rep = MemberFactory(workspace=workspace, role=Role.rep)
    marketer = MemberFactory(workspace=workspace, role=Role.marketer, name="Mia Chen")
    lead = LeadFactory(owner=rep, name="Zoe Zephyr")
    sign_in_as(marketer)
    page.goto(f"{live_server}/leads/{lead.id}")
    for offered in ("name", "title", "tags", "next step", "budget"):
        expect(card(page).get_by_role("button", name=f"Edit {offered}")).to_have_count(1)
    for refused in ("owner", "stage", "deal value"):
        expect(card(page).get_by_role("button", name=f"Edit {refused}")).to_have_count(0)
    expect(card(page).get_by_role("button", name="Take it")).to_have_count(0)
    card(page).get_by_role("button", name="Edit title").click()
    card(page).get_by_label("Title", exact=True).fill("VP Marketing")
    card(page).get_by_label("Title", exact=True).press("Enter")
    expect(card(page).get_by_role("button", name="Edit title")).to_have_text("VP Marketing")

    page.goto(f"{live_server}/leads/new")  # a marketer creates leads, with no owner or stage
    expect(page.get_by_label("Owner", exact=True)).to_have_count(0)
    expect(page.get_by_label("Stage", exact=True)).to_have_count(0)
    page.get_by_label("Email", exact=True).fill("new@lead.example")
    page.get_by_role("button", name="Create lead").click()
    expect(page.get_by_role("status")).to_contain_text("Lead new@lead.example created.")


def test_a_merge_shows_what_moves_and_waits_for_a_confirm(
    page: Page, live_server: str, session: Session, sign_in_as: Callable[[Member], None]
) -> None:
    rep = MemberFactory(role=Role.rep)
    keep = LeadFactory(owner=rep, email="ann@acme.example", name="Ann Smith")
    other_id = LeadFactory(owner=rep, email="ann.smith@gmail.com", name="Ann S.").id
    sign_in_as(rep)
    page.goto(f"{live_server}/leads/{keep.id}")
    page.get_by_label("Merge with (email or lead id)").fill("ann.smith@gmail.com")
    page.get_by_role("button", name="Merge into Ann Smith").click()
    expect(page.get_by_role("heading")).to_have_text(
        "Merge Ann S. <ann.smith@gmail.com> into Ann Smith?"
    )
    expect(page.get_by_text("1 address, 0 threads, 0 notes would move here")).to_be_visible()
    page.get_by_role("link", name="Cancel").click()
    session.expire_all()
    assert session.get(Lead, other_id) is not None  # nothing merged by looking

    page.get_by_label("Merge with (email or lead id)").fill("ann.smith@gmail.com")
    page.get_by_role("button", name="Merge into Ann Smith").click()
    page.get_by_role("button", name="Merge into Ann Smith").click()
    expect(page.get_by_role("status")).to_contain_text("Merged Ann S. into Ann Smith")
    session.expire_all()
    assert session.get(Lead, other_id) is None
