"""Suppression from mail, through real sync passes against the sandbox Google: the
`mailto:` unsubscribe coming back to the mailbox that sent, a lead's reply asking to be
removed, and a hard bounce; each stops every mailbox at the next send."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import unquote

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import SyncState, Workspace
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.models import Suppression, SuppressionReason
from inboxcrm.outbox.steps import with_secret
from inboxcrm.outbox.suppression import suppressed
from inboxcrm.outbox.unsubscribe import Recipient, unsubscribe_headers
from inboxcrm.setup import SYNC_STEPS
from tests.factories import MailboxFactory, WorkspaceFactory
from tests.support.mail import ANSWER, PROPOSAL, raw_eml
from tests.support.passes import sync_pass
from tests.support.sandbox import AVA, BEN, Control, deliver
from tests.support.signals import gmail_bounce

pytestmark = pytest.mark.google
NINA = "nina.berg@vandelay.co.uk"


@pytest.fixture
def workspace(session: Session) -> Workspace:
    return WorkspaceFactory(domain="northwind.io")


def rows(session: Session) -> list[Suppression]:
    session.expire_all()
    return list(session.scalars(select(Suppression).order_by(Suppression.id)))


def test_the_mailto_unsubscribe_comes_back_through_the_sync(
    app: Flask,
    db: Database,
    session: Session,
    workspace: Workspace,
    control: Control,
    gmail: Callable[..., Any],
) -> None:
    ava = MailboxFactory(workspace=workspace, email=AVA)
    deliver(control, AVA, PROPOSAL, sent=True)
    deliver(control, AVA, ANSWER)
    assert sync_pass(db, ava, gmail, control) is SyncState.idle  # Nina becomes a lead
    lead = session.scalars(select(Lead).where(Lead.email == NINA)).unique().one()
    secret = str(app.secret_key)
    recipient = Recipient(workspace.id, lead.id, NINA, ava.id, "send-3")
    header = unsubscribe_headers("http://127.0.0.1:5000", secret, recipient, AVA)
    mailto = header["List-Unsubscribe"].split(", ")[1].strip("<>")
    subject = unquote(mailto.split("subject=", 1)[1])
    # Her mail client sends the mailto: as Gmail's unsubscribe button does.
    deliver(control, AVA, raw_eml(f"From: {NINA}", f"To: {AVA}", f"Subject: {subject}",
                                  "Message-ID: <unsub-1@vandelay.co.uk>",
                                  body="This message was sent to unsubscribe."))  # fmt: skip
    # A forged one, signed with another secret, changes nothing.
    forged = Recipient(workspace.id, lead.id, "ben@vandelay.co.uk", ava.id, "x")
    deliver(control, AVA, raw_eml("From: ben@vandelay.co.uk", f"To: {AVA}",
                                  f"Subject: unsubscribe {forged.token('x' * 40)}",
                                  "Message-ID: <unsub-2@vandelay.co.uk>"))  # fmt: skip
    # The clock's pass: no app, the secret from its settings.
    assert sync_pass(db, ava, gmail, control, with_secret(SYNC_STEPS, secret)) is SyncState.idle
    [row] = rows(session)
    assert (row.pattern, row.reason, row.source, row.send_ref, row.lead_id) == (
        NINA, SuppressionReason.unsubscribed, "mailto", "send-3", lead.id
    )  # fmt: skip
    assert row.message_id is not None
    # Every mailbox of the workspace: Ben's sends to her are suppressed too.
    MailboxFactory(workspace=workspace, email=BEN)
    assert NINA in suppressed(session, workspace.id, [NINA])
    # A pass without the secret (no app, no key) suppresses no one by mailto, and fails nothing.
    deliver(control, AVA, raw_eml(f"From: {NINA}", f"To: {AVA}", f"Subject: {subject}",
                                  "Message-ID: <unsub-3@vandelay.co.uk>"))  # fmt: skip
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    assert len(rows(session)) == 1


def test_a_reply_asking_to_be_removed_and_a_hard_bounce_suppress(
    db: Database,
    session: Session,
    workspace: Workspace,
    control: Control,
    gmail: Callable[..., Any],
) -> None:
    ava = MailboxFactory(workspace=workspace, email=AVA)
    deliver(control, AVA, PROPOSAL, sent=True)
    deliver(control, AVA, raw_eml(
        '"Berg, Nina" <nina.berg@vandelay.co.uk>'.join(["From: ", ""]), f"To: {AVA}",
        "Subject: Re: Proposal", "In-Reply-To: <proposal@northwind.io>",
        "Message-ID: <stop@vandelay.co.uk>", body="Please remove me from your list.",
    ))  # fmt: skip
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    [row] = rows(session)
    assert (row.pattern, row.reason, row.source) == (NINA, SuppressionReason.unsubscribed, "reply")

    # Leo's mailbox is gone for good.
    leo = "leo@initech.example"
    deliver(control, AVA, raw_eml(f"From: Ava Reed <{AVA}>", f"To: {leo}", "Subject: Hi",
                                  "Message-ID: <hi-leo@northwind.io>"), sent=True)  # fmt: skip
    deliver(control, AVA, raw_eml(f"From: {leo}", f"To: {AVA}", "Subject: Re: Hi",
                                  "In-Reply-To: <hi-leo@northwind.io>",
                                  "Message-ID: <re-leo@initech.example>"))  # fmt: skip
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    deliver(control, AVA, gmail_bounce(
        AVA, leo, "<hi-leo@northwind.io>", status="5.1.1",
        diagnostic="550 5.1.1 The email account that you tried to reach does not exist.",
    ))  # fmt: skip
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    found = {r.pattern: r for r in rows(session)}
    assert found[leo].reason is SuppressionReason.hard_bounce
    assert found[leo].source == "bounce"
    # Replayed, nothing more.
    assert sync_pass(db, ava, gmail, control) is SyncState.idle
    assert len(rows(session)) == 2
