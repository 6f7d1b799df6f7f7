"""The lead page: contact card, notes, and a rep's hand on which threads belong to the lead."""

from __future__ import annotations

import datetime as dt
import decimal

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.models import Lead, LinkSource, Note, ThreadLead
from inboxcrm.leads.schemas import LeadUpdate
from inboxcrm.leads.service import update_lead
from inboxcrm.mail.models import Thread
from inboxcrm.tenancy import Scope
from tests.factories import (
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    MessageFactory,
    ThreadFactory,
    ThreadLeadFactory,
)
from tests.support.web import csrf_token, sign_in

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def rep(session: Session) -> Member:
    return MemberFactory(email="rita@team.example", name="Rita Rep")


def links(session: Session, lead: Lead) -> dict[int, ThreadLead]:
    session.expire_all()
    rows = session.scalars(select(ThreadLead).where(ThreadLead.lead_id == lead.id))
    return {link.thread_id: link for link in rows}


def test_the_contact_card_shows_everything_about_the_lead(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    lead = LeadFactory(
        owner=rep,
        email="zoe@zephyr.co.uk",
        name="Zoe Zephyr",
        company="Zephyr Ltd",
        tags=["pilot"],
    )
    update_lead(
        Scope(session, rep.workspace_id),
        lead,
        LeadUpdate(
            other_emails=["z.zephyr@gmail.com"],
            title="CTO",
            phone="+44 20 7946 0000",
            deal_value=decimal.Decimal("12500"),
            next_step="Send the pilot plan",
            budget="50k",
            authority="Signs off",
            need="Faster onboarding",
            timeline="Q1",
        ),
        rep,
        T0,
    )
    lead.needs_review = True
    session.commit()
    sign_in(client, rep)
    html = client.get(f"/leads/{lead.id}").text
    for shown in (
        "Zoe Zephyr", "zoe@zephyr.co.uk", "z.zephyr@gmail.com", "CTO", "+44 20 7946 0000",
        "Rita Rep", "Lead", "$12,500", "Send the pilot plan", "pilot", "Budget", ">50k<",
        "Authority", ">Signs off<", "Need", ">Faster onboarding<", "Timeline", ">Q1<",
        "not reviewed yet",
        f'href="/companies/{lead.company_id}"', "Zephyr Ltd", "Stage history",
    ):  # fmt: skip
        assert shown in html, shown
    index = client.get("/leads?owner=any").text
    assert f'<a href="/companies/{lead.company_id}">Zephyr Ltd</a>' in index


def test_notes_are_added_and_bad_ones_lose_nothing(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    lead = LeadFactory(owner=rep)
    lead.needs_review = True
    session.commit()
    sign_in(client, rep)
    token = csrf_token(client.get(f"/leads/{lead.id}").text)
    answer = client.post(
        f"/leads/{lead.id}/notes", data={"csrf_token": token, "body": "  Called: <b>keen</b>  "}
    )
    assert answer.status_code == 302
    html = client.get(f"/leads/{lead.id}").text
    assert "Called: &lt;b&gt;keen&lt;/b&gt;" in html  # text, never markup
    assert "Rita Rep" in html
    long = "x" * 10_001
    answer = client.post(f"/leads/{lead.id}/notes", data={"csrf_token": token, "body": long})
    assert answer.status_code == 422
    assert long in answer.text  # shown again, to fix and resend
    assert "at most 10,000 characters" in answer.text
    blank = client.post(f"/leads/{lead.id}/notes", data={"csrf_token": token, "body": "   "})
    assert blank.status_code == 422
    forged = client.post(f"/leads/{lead.id}/notes", data={"body": "no token"})
    assert forged.status_code == 400
    session.expire_all()
    assert [n.body for n in session.scalars(select(Note))] == ["Called: <b>keen</b>"]
    assert not session.get_one(Lead, lead.id).needs_review  # a rep has worked on it


def test_a_rep_attaches_detaches_and_picks_the_primary_lead(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    lead = LeadFactory(owner=rep, email="zoe@zephyr.example")
    other = LeadFactory(owner=rep, email="max@zephyr.example")
    box = MailboxFactory(member=rep)
    with_zoe = ThreadFactory(mailbox=box, subject="Intro call")
    MessageFactory(thread=with_zoe, at=T0, from_addr="Zoe <zoe@zephyr.example>")
    by_url = ThreadFactory(mailbox=box, subject="Forwarded contract")
    MessageFactory(thread=by_url, at=T0, from_addr="legal@elsewhere.example")
    unrelated = ThreadFactory(mailbox=box, subject="Lunch")
    MessageFactory(thread=unrelated, at=T0, from_addr="friend@elsewhere.example")
    sign_in(client, rep)

    picker = client.get(f"/leads/{lead.id}/threads/attach").text
    assert "Intro call" in picker  # the team's mail with Zoe's address
    assert "Lunch" not in picker
    assert "Forwarded contract" not in picker
    token = csrf_token(picker)
    answer = client.post(
        f"/leads/{lead.id}/threads/attach",
        data={"csrf_token": token, "thread_ids": str(with_zoe.id)},
    )
    assert answer.status_code == 302
    url = f"https://mail.google.com/mail/u/0/#inbox/{by_url.gmail_id}"
    answer = client.post(
        f"/leads/{lead.id}/threads/attach", data={"csrf_token": token, "gmail": url}
    )
    assert answer.status_code == 302
    found = links(session, lead)
    assert set(found) == {with_zoe.id, by_url.id}
    assert {link.source for link in found.values()} == {LinkSource.manual}
    html = client.get(f"/leads/{lead.id}").text
    assert "Intro call" in html
    assert "Forwarded contract" in html
    assert "Intro call" not in client.get(f"/leads/{lead.id}/threads/attach").text

    # Bad input: said clearly, what was typed kept, nothing attached.
    for pasted, status in (("not a thread!", 422), ("ffffffffffffffff", 404)):
        answer = client.post(
            f"/leads/{lead.id}/threads/attach", data={"csrf_token": token, "gmail": pasted}
        )
        assert answer.status_code == status
        assert f'value="{pasted}"' in answer.text
        assert "Nothing was attached" in answer.text
    assert set(links(session, lead)) == {with_zoe.id, by_url.id}

    # Primary: the lead whose stage the thread's labels show, chosen by a rep.
    ThreadLeadFactory(thread=with_zoe, lead=other)
    answer = client.post(
        f"/leads/{other.id}/threads/primary",
        data={"csrf_token": token, "thread_ids": str(with_zoe.id)},
    )
    assert answer.status_code == 302
    session.expire_all()
    thread = session.get_one(Thread, with_zoe.id)
    assert (thread.primary_lead_id, thread.primary_by_rep) == (other.id, True)
    # A thread not on the lead's timeline cannot get it as primary.
    answer = client.post(
        f"/leads/{other.id}/threads/primary",
        data={"csrf_token": token, "thread_ids": str(unrelated.id)},
    )
    assert answer.status_code == 422
    assert session.get_one(Thread, unrelated.id).primary_lead_id is None

    # Detach: gone from the timeline, kept as detached so sync leaves it off.
    answer = client.post(
        f"/leads/{other.id}/threads/detach",
        data={"csrf_token": token, "thread_ids": str(with_zoe.id)},
    )
    assert answer.status_code == 302
    assert links(session, other)[with_zoe.id].detached
    thread = session.get_one(Thread, with_zoe.id)
    assert thread.primary_lead_id is None
    assert "Intro call" not in client.get(f"/leads/{other.id}").text
    assert "Intro call" in client.get(f"/leads/{lead.id}").text  # Zoe keeps it
    # ... and attaching it again undoes that.
    client.post(
        f"/leads/{other.id}/threads/attach",
        data={"csrf_token": token, "thread_ids": str(with_zoe.id)},
    )
    assert not links(session, other)[with_zoe.id].detached


def test_thread_actions_are_all_or_nothing(
    client: FlaskClient, session: Session, rep: Member
) -> None:
    lead = LeadFactory(owner=rep)
    mine = ThreadFactory(mailbox=MailboxFactory(member=rep), subject="Mine")
    MessageFactory(thread=mine, at=T0)
    ThreadLeadFactory(thread=mine, lead=lead)
    stranger = MemberFactory(email="eve@other.example")
    foreign = ThreadFactory(mailbox=MailboxFactory(member=stranger), subject="Theirs")
    MessageFactory(thread=foreign, at=T0)
    sign_in(client, rep)
    token = csrf_token(client.get(f"/leads/{lead.id}").text)
    for action in ("detach", "primary"):
        answer = client.post(
            f"/leads/{lead.id}/threads/{action}",
            data={"csrf_token": token, "thread_ids": [str(mine.id), str(foreign.id)]},
        )
        assert answer.status_code == 404
    for junk in ("abc", ""):
        answer = client.post(
            f"/leads/{lead.id}/threads/detach", data={"csrf_token": token, "thread_ids": junk}
        )
        assert answer.status_code in (400, 422)
    answer = client.post(f"/leads/{lead.id}/threads/detach", data={"csrf_token": token})
    assert answer.status_code == 422
    assert not links(session, lead)[mine.id].detached
    assert session.get_one(Thread, mine.id).primary_lead_id is None
    assert session.scalars(select(ThreadLead).where(ThreadLead.thread_id == foreign.id)).all() == []
