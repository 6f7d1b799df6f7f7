"""What a rep sees of a colleague's mail: by page, body URL, API and search."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Visibility
from inboxcrm.leads.models import Lead, ThreadLead
from inboxcrm.mail.models import Message, Thread
from inboxcrm.mail.privacy import MailAccess
from tests.factories import (
    LeadFactory,
    MailboxFactory,
    MemberFactory,
    MessageFactory,
    ThreadFactory,
    ThreadLeadFactory,
    api_token,
)
from tests.support.web import csrf_token, sign_in

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@dataclass
class Team:
    ava: Member  # owns a fully shared mailbox, with one private thread
    ben: Member  # the colleague who looks
    cat: Member  # shares nothing
    dan: Member  # shares subjects and participants only
    lead: Lead
    shared: Message
    secret: Message
    hidden: Message
    envelope: Message


@pytest.fixture
def team(session: Session) -> Team:
    ava = MemberFactory(email="ava@team.example", name="Ava")
    ws = ava.workspace
    ben = MemberFactory(workspace=ws, email="ben@team.example", name="Ben")
    cat = MemberFactory(workspace=ws, email="cat@team.example", name="Cat")
    dan = MemberFactory(workspace=ws, email="dan@team.example", name="Dan")
    lead = LeadFactory(owner=ava, email="zoe@zephyr.example", name="Zoe Zephyr")
    box_ava = MailboxFactory(member=ava)
    box_cat = MailboxFactory(member=cat, visibility="none")
    box_dan = MailboxFactory(member=dan, visibility="metadata")
    messages = []
    for box, subject, body, private in (
        (box_ava, "Public hello", "Looking forward to the demo", False),
        (box_ava, "Secret pricing", "The secret discount is 42 percent", True),
        (box_cat, "Hidden merger", "Hidden merger talk", False),
        (box_dan, "Envelope only", "Envelope body words", False),
    ):
        thread = ThreadFactory(mailbox=box, subject=subject, private=private)
        ThreadLeadFactory(thread=thread, lead=lead)
        messages.append(
            MessageFactory(
                thread=thread,
                at=T0 + dt.timedelta(hours=len(messages)),
                rfc=f"<{len(messages)}@zephyr.example>",
                html=f"<p>{body}</p>",
                snippet=body,
            )
        )
    return Team(ava, ben, cat, dan, lead, *messages)


def api(client: FlaskClient, member: Member, path: str) -> tuple[int, object]:
    response = client.get(path, headers={"Authorization": f"Bearer {api_token(member)}"})
    return response.status_code, response.get_json()


def test_mail_access_rules_per_row_and_in_sql(session: Session, team: Team) -> None:
    access = MailAccess.of(session, team.ben)
    threads = {t.subject: t for t in session.scalars(select(Thread))}
    assert {s for s, t in threads.items() if access.sees(t)} == {"Public hello", "Envelope only"}
    assert {s for s, t in threads.items() if access.reads(t)} == {"Public hello"}
    listed = session.scalars(select(Thread.subject).where(access.threads()))
    assert set(listed) == {"Public hello", "Envelope only"}
    assert set(session.scalars(select(Thread.subject).where(access.readable()))) == {"Public hello"}
    owner = MailAccess.of(session, team.ava)
    assert owner.sees(threads["Secret pricing"])
    assert owner.reads(threads["Secret pricing"])
    assert owner.gmail_url(threads["Secret pricing"]) is not None
    assert access.gmail_url(threads["Public hello"]) is None  # not Ben's own copy
    nobody = MailAccess.of(session, MemberFactory())  # another workspace sees none of it
    assert session.scalars(select(Thread).where(nobody.threads())).all() == []


def test_a_colleague_cannot_read_a_private_or_unshared_thread_anywhere(
    client: FlaskClient, session: Session, team: Team
) -> None:
    sign_in(client, team.ben)
    page = client.get(f"/leads/{team.lead.id}").text
    assert "Public hello" in page
    assert "Looking forward to the demo" in page
    assert "Envelope only" in page  # metadata: the subject shows ...
    assert "Envelope body words" not in page  # ... but not what it says
    for word in ("Secret pricing", "secret discount", "Hidden merger"):
        assert word not in page
    # By the body's own URL: the same answer as for a message that does not exist.
    for hidden in (team.secret, team.hidden, team.envelope):
        response = client.get(f"/messages/{hidden.id}/body")
        assert response.status_code == 404
        assert "42 percent" not in response.text
        assert "merger" not in response.text
    assert client.get(f"/messages/{team.shared.id}/body").status_code == 200
    # Nor can he make it his business: no primary, no detach, no privacy switch.
    token = csrf_token(page)
    for action in ("primary", "detach"):
        answer = client.post(
            f"/leads/{team.lead.id}/threads/{action}",
            data={"csrf_token": token, "thread_ids": [str(team.secret.thread_id)]},
        )
        assert answer.status_code == 404
    answer = client.post(
        f"/threads/{team.secret.thread_id}/private", data={"csrf_token": token, "private": "0"}
    )
    assert answer.status_code == 404
    session.expire_all()
    secret_thread = session.get_one(Thread, team.secret.thread_id)
    assert secret_thread.is_private
    assert secret_thread.primary_lead_id is None
    assert not session.scalars(select(ThreadLead).where(ThreadLead.detached)).all()
    # Not among the threads he could attach either.
    attach = client.get(f"/leads/{team.lead.id}/threads/attach").text
    assert "Secret pricing" not in attach
    assert "Hidden merger" not in attach
    # Search does not find the lead by what the private mail says.
    assert "Zoe Zephyr" not in client.get("/leads?owner=any&q=secret+discount").text
    assert "Zoe Zephyr" not in client.get("/leads?owner=any&q=merger").text

    # The API honours the same rules.
    status, body = api(client, team.ben, f"/api/v1/leads/{team.lead.id}/messages")
    assert status == 200
    assert isinstance(body, dict)
    by_subject = {m["subject"]: m for m in body["messages"]}
    assert set(by_subject) == {"Public hello", "Envelope only"}
    assert by_subject["Public hello"]["content"] == "full"
    assert "Looking forward" in by_subject["Public hello"]["body_html"]
    envelope = by_subject["Envelope only"]
    assert envelope["content"] == "metadata"
    assert envelope["snippet"] is envelope["body_html"] is envelope["body_text"] is None
    assert "42 percent" not in str(body)
    assert "merger" not in str(body)
    status, body = api(client, team.ben, "/api/v1/leads?q=secret")
    assert status == 200
    assert isinstance(body, dict)
    assert body["leads"] == []


def test_the_owner_sees_their_private_thread_and_can_share_it_again(
    client: FlaskClient, session: Session, team: Team
) -> None:
    sign_in(client, team.ava)
    page = client.get(f"/leads/{team.lead.id}").text
    assert "Secret pricing" in page
    assert "private to you" in page
    assert "Hidden merger" not in page  # Cat shares nothing, even with Ava
    assert client.get(f"/messages/{team.secret.id}/body").status_code == 200
    answer = client.post(
        f"/threads/{team.secret.thread_id}/private",
        data={"csrf_token": csrf_token(page), "private": "0", "next": f"/leads/{team.lead.id}"},
    )
    assert answer.status_code == 302
    assert answer.location == f"/leads/{team.lead.id}"
    for elsewhere in ("//evil.example/", "/\\evil.example/", "https://evil.example/"):
        answer = client.post(
            f"/threads/{team.secret.thread_id}/private",
            data={"csrf_token": csrf_token(page), "private": "0", "next": elsewhere},
        )
        assert answer.location == "/leads"  # never off the site
    sign_in(client, team.ben)
    assert "Secret pricing" in client.get(f"/leads/{team.lead.id}").text


def test_only_the_owner_can_make_a_visible_thread_private(
    client: FlaskClient, session: Session, team: Team
) -> None:
    sign_in(client, team.ben)
    page = client.get(f"/leads/{team.lead.id}").text
    assert "Make private" not in page  # Ben owns no copy on this timeline
    answer = client.post(
        f"/threads/{team.shared.thread_id}/private",
        data={"csrf_token": csrf_token(page), "private": "1"},
    )
    assert answer.status_code == 403
    session.expire_all()
    assert not session.get_one(Thread, team.shared.thread_id).is_private


def test_a_mailbox_owner_chooses_what_the_team_sees(
    client: FlaskClient, session: Session, team: Team
) -> None:
    sign_in(client, team.ava)
    page = client.get("/mailboxes").text
    box = session.scalars(select(Mailbox).where(Mailbox.member_id == team.ava.id)).one()
    assert f'action="/mailboxes/{box.id}/visibility"' in page
    token = csrf_token(page)
    bad = client.post(
        f"/mailboxes/{box.id}/visibility", data={"csrf_token": token, "visibility": "all"}
    )
    assert bad.status_code == 422
    answer = client.post(
        f"/mailboxes/{box.id}/visibility", data={"csrf_token": token, "visibility": "none"}
    )
    assert answer.status_code == 302
    assert "the team now sees nothing" in client.get("/mailboxes").text
    session.expire_all()
    assert session.get_one(Mailbox, box.id).visibility is Visibility.none
    # A colleague cannot change it back.
    sign_in(client, team.ben)
    token = csrf_token(client.get("/mailboxes").text)
    answer = client.post(
        f"/mailboxes/{box.id}/visibility", data={"csrf_token": token, "visibility": "full"}
    )
    assert answer.status_code == 403
    session.expire_all()
    assert session.get_one(Mailbox, box.id).visibility is Visibility.none
    assert "Public hello" not in client.get(f"/leads/{team.lead.id}").text


def test_another_workspace_sees_none_of_it(
    client: FlaskClient, session: Session, team: Team
) -> None:
    stranger = MemberFactory(email="eve@other.example")
    own_lead = LeadFactory(owner=stranger, email="own@lead.example")
    sign_in(client, stranger)
    token = csrf_token(client.get(f"/leads/{own_lead.id}").text)
    for path in (
        f"/leads/{team.lead.id}",
        f"/messages/{team.shared.id}/body",
        f"/leads/{team.lead.id}/threads/attach",
    ):
        assert client.get(path).status_code == 404, path
    posts = [
        (f"/threads/{team.shared.thread_id}/private", {"private": "1"}),
        (f"/leads/{own_lead.id}/threads/attach", {"thread_ids": str(team.shared.thread_id)}),
        (f"/leads/{own_lead.id}/threads/detach", {"thread_ids": str(team.shared.thread_id)}),
        (f"/leads/{team.lead.id}/notes", {"body": "hello"}),
    ]
    for path, data in posts:
        assert client.post(path, data={"csrf_token": token, **data}).status_code == 404, path
    # Another workspace's Gmail id is not found either.
    gmail_id = session.get_one(Thread, team.shared.thread_id).gmail_id
    answer = client.post(
        f"/leads/{own_lead.id}/threads/attach", data={"csrf_token": token, "gmail": gmail_id}
    )
    assert answer.status_code == 404
    assert session.scalars(select(ThreadLead).where(ThreadLead.lead_id == own_lead.id)).all() == []
    session.expire_all()
    assert not session.get_one(Thread, team.shared.thread_id).is_private
    for path in (
        f"/api/v1/leads/{team.lead.id}",
        f"/api/v1/leads/{team.lead.id}/messages",
    ):
        status, _ = api(client, stranger, path)
        assert status == 404, path
