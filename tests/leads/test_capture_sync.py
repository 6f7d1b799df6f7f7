"""From mail arriving in the sandbox's Gmail, through the real sync, to leads and links."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role, SyncState, Workspace
from inboxcrm.db import Database
from inboxcrm.leads.models import Activity, ActivityKind, Lead, ThreadLead
from inboxcrm.mail.models import Message, Thread
from tests.factories import BlockedAddressFactory, MailboxFactory, WorkspaceFactory
from tests.support.mail import ANSWER, PROPOSAL, b64, eight_bit_eml, raw_eml
from tests.support.passes import sync_pass
from tests.support.sandbox import AVA, BEN, Control, deliver

NEWSLETTER = raw_eml(
    "From: SaaS Weekly <news@saasweekly.example>",
    f"To: {AVA}",
    "Subject: This week in SaaS",
    "List-Unsubscribe: <https://saasweekly.example/u/1>",
    "Message-ID: <issue42@saasweekly.example>",
)
NOTIFICATION = raw_eml(
    "From: Tracker <no-reply@tracker.example>",
    f"To: {AVA}",
    "Subject: Build passed",
    "Message-ID: <build@tracker.example>",
)
SPAM = raw_eml(
    "From: Seller <deals@mail.spammy.example>",
    f"To: {AVA}",
    "Subject: Cheap leads",
    "Message-ID: <spam@spammy.example>",
)
SPAM_REPLY = raw_eml(
    f"From: {AVA}",
    "To: deals@mail.spammy.example",
    "Subject: Re: Cheap leads",
    "In-Reply-To: <spam@spammy.example>",
    "Message-ID: <unsubscribe-me@northwind.io>",
)


@pytest.fixture
def workspace(session: Session) -> Workspace:
    workspace = WorkspaceFactory(domain="northwind.io")
    BlockedAddressFactory(workspace=workspace, pattern="@spammy.example")
    return workspace


def test_mail_in_two_team_mailboxes_makes_one_lead_with_links_and_no_doubles(
    db: Database,
    session: Session,
    workspace: Workspace,
    control: Control,
    gmail: Callable[..., Any],
) -> None:
    ava = MailboxFactory(workspace=workspace, email=AVA, role=Role.admin)
    ben = MailboxFactory(workspace=workspace, email=BEN)
    deliver(control, AVA, PROPOSAL, sent=True)
    deliver(control, AVA, ANSWER)
    deliver(control, BEN, PROPOSAL)  # Ben was copied: his own copy of both messages
    deliver(control, BEN, ANSWER)
    for raw in (NEWSLETTER, NOTIFICATION, SPAM):
        deliver(control, AVA, raw)
    deliver(control, AVA, SPAM_REPLY, sent=True)

    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    assert sync_pass(db, ben, gmail, control) is SyncState.idle

    leads = session.scalars(select(Lead)).unique().all()
    assert [lead.email for lead in leads] == ["nina.berg@vandelay.co.uk"]
    nina = leads[0]
    assert nina.name == "Berg, Nina"
    assert nina.owner_id == ava.member_id
    assert nina.company is not None
    assert (nina.company.name, [d.domain for d in nina.company.domains]) == (
        "Vandelay",
        ["vandelay.co.uk"],
    )
    assert (nina.source, nina.needs_review) == ("mail", True)
    assert session.scalar(select(func.count()).select_from(Message)) == 8  # all mail kept
    # Each mailbox's copy of the conversation is linked, and Nina heads both.
    linked = session.scalars(select(ThreadLead.thread_id).where(ThreadLead.lead_id == nina.id))
    threads = session.scalars(select(Thread).where(Thread.id.in_(list(linked)))).all()
    assert sorted(t.mailbox_id for t in threads) == sorted([ava.id, ben.id])
    assert {t.primary_lead_id for t in threads} == {nina.id}
    # Two messages, each held twice: one activity each, and her answer is one reply.
    kinds = sorted(a.kind.value for a in session.scalars(select(Activity)))
    assert kinds == ["message_in", "message_out", "reply"]

    # Nina writes again: the incremental sync adds her message and its activity.
    deliver(control, AVA, ANSWER.replace("<answer@", "<again@").replace("17 Nov", "19 Nov"))
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    session.expire_all()
    activities = session.scalars(select(Activity).where(Activity.lead_id == nina.id)).all()
    assert sorted(a.kind for a in activities).count(ActivityKind.message_in) == 2
    session.refresh(nina)
    assert nina.last_contacted_at == max(a.occurred_at for a in activities)
    assert nina.first_inbound_at == min(
        a.occurred_at for a in activities if a.kind is ActivityKind.message_in
    )


def test_a_lead_made_by_one_mailbox_gets_the_mail_another_mailbox_stored_before(
    db: Database,
    session: Session,
    workspace: Workspace,
    control: Control,
    gmail: Callable[..., Any],
) -> None:
    ava = MailboxFactory(workspace=workspace, email=AVA)
    ben = MailboxFactory(workspace=workspace, email=BEN)
    # Nina wrote to Ben, who never answered: not a lead yet.
    deliver(control, BEN, ANSWER.replace(f"Cc: {BEN}", "Cc: nobody@vandelay.co.uk")
            .replace(f"To: {AVA}", f"To: {BEN}"))  # fmt: skip
    assert sync_pass(db, ben, gmail, control) is SyncState.idle
    assert session.scalars(select(Lead)).first() is None
    # Then Ava writes to her: a lead, and Ben's stored thread joins her timeline.
    deliver(control, AVA, PROPOSAL.replace(f"Cc: {BEN}\r\n", ""), sent=True)
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    nina = session.scalars(select(Lead)).unique().one()
    assert nina.owner_id == ava.member_id
    mailboxes = session.scalars(
        select(Thread.mailbox_id).join(ThreadLead, ThreadLead.thread_id == Thread.id)
        .where(ThreadLead.lead_id == nina.id)
    ).all()  # fmt: skip
    assert sorted(mailboxes) == sorted([ava.id, ben.id])
    session.refresh(nina)
    assert nina.first_inbound_at is not None  # from Ben's copy of her message


@pytest.mark.parametrize("charset", ["utf-8", "cp1252"])
def test_raw_eight_bit_headers_reach_the_lead_as_text(
    db: Database,
    session: Session,
    workspace: Workspace,
    control: Control,
    gmail: Callable[..., Any],
    charset: str,
) -> None:
    """`From: Lars Øberg` in raw 8-bit, no RFC 2047: the sandbox's Gmail API and our parse
    read it as text (UTF-8, else Windows-1252), never as `Lars ��berg`."""
    ava = MailboxFactory(workspace=workspace, email=AVA, role=Role.admin)
    reply = raw_eml(
        f"From: Ava Reed <{AVA}>",
        "To: Lars Øberg <lars@oberg.example>",
        "Subject: Re: Präsentation für Montag",
        "In-Reply-To: <eight-bit@oberg.example>",
        "Message-ID: <reply@northwind.io>",
    )
    control("deliver", {"to": AVA, "raw": b64(eight_bit_eml(charset))})
    control("deliver", {"to": AVA, "raw": b64(reply.encode(charset)), "labelIds": ["SENT"]})
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    lars = session.scalars(select(Lead)).unique().one()
    assert (lars.name, lars.email) == ("Lars Øberg", "lars@oberg.example")
    inbound = session.scalars(
        select(Message).where(Message.rfc_message_id == "<eight-bit@oberg.example>")
    ).one()
    assert inbound.subject == "Präsentation für Montag"
    assert inbound.from_addr.startswith("Lars Øberg")
    assert [a["filename"] for a in inbound.attachments] == ["Präsentation.pdf"]
