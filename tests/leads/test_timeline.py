"""A lead's timeline: every conversation once, across the team's mailboxes, page by page."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.leads.models import Lead
from inboxcrm.leads.timeline import Cursor, TimelinePage, timeline
from inboxcrm.mail.privacy import MailAccess
from inboxcrm.tenancy import Scope
from tests.factories import (
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    MessageFactory,
    ThreadFactory,
    ThreadLeadFactory,
)
from tests.support.web import sign_in

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
HOUR = dt.timedelta(hours=1)


def page_of(session: Session, viewer: Member, lead: Lead, **kw: object) -> TimelinePage:
    scope = Scope(session, viewer.workspace_id)
    return timeline(scope, MailAccess.of(session, viewer), [lead.id], **kw)  # type: ignore[arg-type]


@pytest.fixture
def ava(session: Session) -> Member:
    return MemberFactory(email="ava@team.example", name="Ava")


def test_one_conversation_in_two_mailboxes_shows_each_email_once(
    client: FlaskClient, session: Session, ava: Member
) -> None:
    ben = MemberFactory(workspace=ava.workspace, email="ben@team.example")
    lead = LeadFactory(owner=ava, email="zoe@zephyr.example")
    box_a, box_b = MailboxFactory(member=ava), MailboxFactory(member=ben)
    copy_a, copy_b = (
        ThreadFactory(mailbox=box_a, subject="Pilot"),
        ThreadFactory(mailbox=box_b, subject="Pilot"),
    )
    ThreadLeadFactory(thread=copy_a, lead=lead)
    ThreadLeadFactory(thread=copy_b, lead=lead)
    for n, (inbound, in_b) in enumerate([(True, True), (False, True), (True, False)]):
        for copy in (copy_a, copy_b) if in_b else (copy_a,):
            MessageFactory(
                thread=copy, at=T0 + n * HOUR, rfc=f"<m{n}@x>", inbound=inbound, text=f"email {n}"
            )
    # A message without a Message-ID cannot be matched: it stands alone, but still once.
    MessageFactory(thread=copy_b, at=T0 + 5 * HOUR, rfc=None, text="no id")

    page = page_of(session, ava, lead)
    assert len(page.conversations) == 1
    conversation = page.conversations[0]
    assert sorted(conversation.thread_ids) == sorted([copy_a.id, copy_b.id])
    assert [m.sent_at for m in conversation.messages] == [T0 + n * HOUR for n in (0, 1, 2, 5)]
    # Each email from the viewer's own copy when they have one.
    assert [m.mailbox_id for m in conversation.messages] == [box_a.id] * 3 + [box_b.id]
    assert conversation.gmail_url == (
        f"https://mail.google.com/mail/u/{box_a.email}/#all/{copy_a.gmail_id}"
    )
    assert conversation.own is not None
    assert conversation.own.id == copy_a.id
    ben_view = page_of(session, ben, lead).conversations[0]
    assert [m.mailbox_id for m in ben_view.messages] == [box_b.id, box_b.id, box_a.id, box_b.id]
    assert ben_view.gmail_url is not None
    assert copy_b.gmail_id in ben_view.gmail_url

    sign_in(client, ava)
    html = client.get(f"/leads/{lead.id}").text
    assert len(re.findall(r"data-message=", html)) == 4
    assert html.count("data-conversation") == 1
    assert "Open in Gmail" in html


def test_a_readable_copy_wins_over_a_metadata_one(session: Session, ava: Member) -> None:
    dan = MemberFactory(workspace=ava.workspace)
    viewer = MemberFactory(workspace=ava.workspace)
    lead = LeadFactory(owner=ava)
    full = ThreadFactory(mailbox=MailboxFactory(member=ava), subject="Terms")
    envelope = ThreadFactory(
        mailbox=MailboxFactory(member=dan, visibility="metadata"), subject="Terms"
    )
    for copy in (envelope, full):
        ThreadLeadFactory(thread=copy, lead=lead)
        MessageFactory(thread=copy, at=T0, rfc="<terms@x>", snippet="net 30")
    MessageFactory(thread=envelope, at=T0 + HOUR, rfc="<only-dan@x>", snippet="dan's reply")
    conversation = page_of(session, viewer, lead).conversations[0]
    first, second = conversation.messages
    assert (first.readable, first.snippet, first.thread_id) == (True, "net 30", full.id)
    assert (second.readable, second.snippet, second.attachments) == (False, None, ())
    assert conversation.gmail_url is None  # the viewer has no copy of their own


def test_pages_of_older_threads_show_every_conversation_once_newest_first(
    client: FlaskClient, session: Session, ava: Member
) -> None:
    ben = MemberFactory(workspace=ava.workspace)
    lead = LeadFactory(owner=ava)
    box_a, box_b = MailboxFactory(member=ava), MailboxFactory(member=ben)
    for i in range(30):
        start = T0 + i * HOUR
        mine, theirs = (
            ThreadFactory(mailbox=box_a, subject=f"Topic {i:02}"),
            ThreadFactory(mailbox=box_b, subject="copy"),
        )
        ThreadLeadFactory(thread=mine, lead=lead)
        ThreadLeadFactory(thread=theirs, lead=lead)
        MessageFactory(thread=mine, at=start, rfc=f"<{i}a@x>")
        MessageFactory(thread=theirs, at=start, rfc=f"<{i}a@x>")  # Ben had only the first email,
        MessageFactory(thread=mine, at=start + HOUR / 2, rfc=f"<{i}b@x>")  # so his copy sorts older
    # Detached and unlinked threads never show.
    gone = ThreadFactory(mailbox=box_a, subject="Gone")
    ThreadLeadFactory(thread=gone, lead=lead, detached=True)
    MessageFactory(thread=gone, at=T0)
    MessageFactory(thread=ThreadFactory(mailbox=box_a, subject="Unlinked"), at=T0)

    seen: list[str] = []
    older: Cursor | None = None
    pages = 0
    while True:
        page = page_of(session, ava, lead, older=older, per_page=25)
        pages += 1
        seen += [c.subject for c in page.conversations]
        assert all(len(c.messages) == 2 for c in page.conversations)
        if page.older is None:
            break
        older = page.older
    assert pages == 3
    assert seen == [f"Topic {i:02}" for i in reversed(range(30))]

    sign_in(client, ava)
    first = client.get(f"/leads/{lead.id}").text
    # 10 threads a page: here each conversation has two copies.
    assert re.findall(r"<h3>(Topic \d+)</h3>", first) == [f"Topic {i}" for i in range(29, 24, -1)]
    found = re.search(r'href="([^"]*\?older=[^"#]+)', first)
    assert found, "no link to older threads"
    second = client.get(found.group(1)).text
    subjects = re.findall(r"<h3>(Topic \d+)</h3>", second)
    assert subjects == [f"Topic {i}" for i in range(24, 19, -1)]
    assert "Newest" in second
    assert client.get(f"/leads/{lead.id}?older=yesterday").status_code == 400


def test_times_show_in_the_viewers_timezone_with_response_times(
    client: FlaskClient, session: Session, ava: Member
) -> None:
    ava.timezone = "America/New_York"
    lead = LeadFactory(owner=ava, name="Tim Zone")
    lead.first_inbound_at = T0
    lead.first_response_at = T0 + dt.timedelta(hours=2, minutes=15)
    lead.last_contacted_at = T0 + dt.timedelta(days=1)
    thread = ThreadFactory(mailbox=MailboxFactory(member=ava), subject="Hello")
    ThreadLeadFactory(thread=thread, lead=lead)
    MessageFactory(
        thread=thread,
        at=T0,
        attachments=[
            {"filename": "quote.pdf", "mime_type": "application/pdf", "size": 48_213},
            {"filename": "logo.png", "mime_type": "image/png", "size": 900, "inline": True},
        ],
    )
    session.commit()
    sign_in(client, ava)
    html = client.get(f"/leads/{lead.id}").text
    assert "2026-11-02 04:00 EST" in html  # 09:00 UTC
    assert "2h 15m later" in html
    assert "2026-11-03 04:00 EST" in html  # last contact
    assert "quote.pdf" in html
    assert "application/pdf, 47.1 KB" in html
    assert "logo.png" not in html  # an inline image is part of the body, not an attachment


def test_an_unanswered_lead_says_so(client: FlaskClient, session: Session, ava: Member) -> None:
    lead = LeadFactory(owner=ava)
    lead.first_inbound_at = T0
    session.commit()
    sign_in(client, ava)
    html = client.get(f"/leads/{lead.id}").text
    assert "not answered yet" in html
    assert "No conversations with this lead yet" in html
