from __future__ import annotations

import email.message

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.mail.models import Direction, Message, MessageKind, Thread
from inboxcrm.mail.parse import ParsedMessage, parse_message
from inboxcrm.mail.store import delete_messages, set_labels, store_messages
from tests.factories import MailboxFactory
from tests.support.gmail_json import to_gmail_json

REP = "rita@team.example"


def mail(
    gmail_id: str,
    thread_id: str,
    sender: str,
    to: str,
    subject: str,
    minute: int,
    labels: tuple[str, ...] = ("INBOX",),
) -> ParsedMessage:
    msg = email.message.EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg["Message-ID"] = f"<{gmail_id}@mail.example>"
    msg.set_content(f"Body of {subject}")
    minute_ms = 1_763_892_000_000 + minute * 60_000
    resource = to_gmail_json(
        msg, gmail_id=gmail_id, thread_id=thread_id, label_ids=labels, internal_date_ms=minute_ms
    )
    return parse_message(resource)


def mailbox(session: Session) -> Mailbox:
    return MailboxFactory(email=REP)


def count(session: Session, model: type) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def test_a_conversation_is_stored_once_however_often_it_is_fetched(session: Session) -> None:
    box = mailbox(session)
    batch = [
        mail("m1", "t1", "Ann <ann@acme.example>", REP, "Pricing", 0),
        mail("m2", "t1", f"Rita <{REP}>", "ann@acme.example", "Re: Pricing", 5, ("SENT",)),
        mail("m3", "t2", "bo@globex.example", REP, "Demo?", 9),
    ]
    assert store_messages(session, box, batch).added == 3
    again = store_messages(session, box, batch)
    assert (again.added, again.updated) == (0, 3)
    assert (count(session, Message), count(session, Thread)) == (3, 2)
    thread = session.scalars(select(Thread).where(Thread.gmail_id == "t1")).one()
    assert thread.subject == "Pricing"
    assert thread.last_message_at is not None
    assert thread.last_message_at.minute == (batch[1].sent_at.minute if batch[1].sent_at else -1)
    directions = dict(session.execute(select(Message.gmail_id, Message.direction)).tuples().all())
    assert directions == {
        "m1": Direction.inbound,
        "m2": Direction.outbound,
        "m3": Direction.inbound,
    }
    first = session.scalars(select(Message).where(Message.gmail_id == "m1")).one()
    assert first.from_addr == "Ann <ann@acme.example>"
    assert first.rfc_message_id == "<m1@mail.example>"
    assert first.body_text is not None
    assert "Body of Pricing" in first.body_text


def test_labels_move_and_deletions_remove_empty_threads(session: Session) -> None:
    box = mailbox(session)
    store_messages(
        session,
        box,
        [
            mail("m1", "t1", "a@x.example", REP, "One", 0),
            mail("m2", "t2", "b@y.example", REP, "Two", 1),
        ],
    )
    assert set_labels(session, box, {"m1": ["INBOX", "Label_7"], "gone": ["INBOX"]}) == 1
    assert session.scalars(select(Message.label_ids).where(Message.gmail_id == "m1")).one() == [
        "INBOX",
        "Label_7",
    ]
    assert delete_messages(session, box, ["m2", "never-seen"]) == 1
    assert [t.gmail_id for t in session.scalars(select(Thread))] == ["t1"]


def test_each_mailbox_keeps_its_own_copy(session: Session) -> None:
    box = mailbox(session)
    other = MailboxFactory(member=box.member, email="second@team.example")
    message = mail("m1", "t1", "a@x.example", REP, "Shared", 0)
    store_messages(session, box, [message])
    store_messages(session, other, [message])
    assert count(session, Message) == 2
    assert count(session, Thread) == 2


def test_list_and_automated_mail_is_not_person_mail_and_names_keep_their_commas(
    session: Session,
) -> None:
    box = mailbox(session)
    news = email.message.EmailMessage()
    news["From"], news["To"], news["Subject"] = "news@saas.example", REP, "Weekly"
    news["List-Unsubscribe"] = "<mailto:u@saas.example>"
    news.set_content("Issue 1")
    batch = [
        parse_message(to_gmail_json(news, gmail_id="n1", thread_id="tn")),
        mail("n2", "t2", "MAILER-DAEMON@mx.example", REP, "Undelivered", 1),
        mail("n3", "t3", '"Berg, Nina" <nina@vandelay.example>', REP, "Hi", 2),
        mail("n4", "t4", "noreply@saas.example", REP, "Your invoice", 3),
    ]
    stored = store_messages(session, box, batch)
    assert [m.id for m in stored.messages] == sorted(m.id for m in stored.messages)
    rows = {m.gmail_id: m for m in session.scalars(select(Message))}
    assert {g: m.kind for g, m in rows.items()} == {
        "n1": MessageKind.bulk,
        "n2": MessageKind.bounce,  # a daemon's "Undelivered", in plain text as qmail sends it
        "n3": MessageKind.person,
        "n4": MessageKind.bulk,
    }
    assert rows["n3"].from_addr == '"Berg, Nina" <nina@vandelay.example>'
    assert {(a.id, a.thread_id) for a in stored.messages} == {
        (m.id, m.thread_id) for m in rows.values()
    }


def test_a_thread_shows_its_newest_mail_whichever_batch_brings_it(session: Session) -> None:
    box = mailbox(session)
    store_messages(session, box, [mail("m2", "t1", "ann@acme.example", REP, "Pricing", 5)])
    thread = session.scalars(select(Thread).where(Thread.gmail_id == "t1")).one()
    newer = mail("m3", "t1", f"Rita <{REP}>", "ann@acme.example", "Re: Pricing", 9, ("SENT",))
    older = mail("m1", "t1", "ann@acme.example", REP, "Early question", 1)
    # A later batch: a newer reply and an older message of the same thread, and a new thread.
    stored = store_messages(
        session, box, [newer, older, mail("m4", "t2", "bo@globex.example", REP, "Demo?", 3)]
    )
    other = session.scalars(select(Thread).where(Thread.gmail_id == "t2")).one()
    assert stored.added == 3
    assert sorted(m.thread_id for m in stored.messages) == sorted([thread.id, thread.id, other.id])
    assert (thread.subject, thread.snippet) == ("Pricing", newer.snippet[:500])  # loaded: told
    assert thread.last_message_at == newer.sent_at
    assert (other.subject, other.last_message_at) == ("Demo?", stored_at(session, "m4"))
    assert (count(session, Message), count(session, Thread)) == (4, 2)


def stored_at(session: Session, gmail_id: str) -> object:
    return session.scalar(select(Message.sent_at).where(Message.gmail_id == gmail_id))
