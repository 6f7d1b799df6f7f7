"""From mail arriving in two team mailboxes (the sandbox, synced for real) to the lead page."""

from __future__ import annotations

import re

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.mail.jobs import sync_due
from inboxcrm.mail.models import Message, Thread
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS
from tests.factories import LeadFactory, ThreadLeadFactory
from tests.support.sandbox import AVA, BEN
from tests.support.web import google_signin

pytestmark = pytest.mark.google

PROPOSAL = (
    "From: =?UTF-8?Q?Zo=C3=A9_Zephyr?= <Zoe@Zephyr.example>\r\n"
    "To: ava.reed@northwind.io, ben.okafor@northwind.io\r\n"
    "Subject: Proposal for the pilot\r\n"
    "Message-ID: <proposal-1@zephyr.example>\r\n"
    "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/alternative; boundary="b"\r\n\r\n'
    "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the pilot plan.\r\n"
    "--b\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
    '<p onclick="steal()">See the <b>pilot plan</b>.</p><script>steal()</script>'
    '<img src="https://tracker.example/open.gif">\r\n'
    "--b--\r\n"
)


def test_one_email_in_two_mailboxes_is_shown_once_on_the_lead_page(
    client: FlaskClient,
    app: Flask,
    session: Session,
    db: Database,
    google_settings: Settings,
    sandbox: RunningSandbox,
) -> None:
    google_signin(app.test_client(), BEN)
    google_signin(client, AVA)  # the page is read as Ava
    for to in (AVA, BEN):
        answer = requests.post(
            f"{sandbox.url}/_sandbox/deliver", json={"to": to, "eml": PROPOSAL}, timeout=10
        )
        assert answer.status_code == 200, answer.text
    runtime = Runtime(db, google_settings)
    try:
        for running in sync_due(runtime, utcnow(), SYNC_STEPS):
            running.result()
    finally:
        runtime.stop()
    copies = list(session.scalars(select(Thread)))
    assert len(copies) == 2  # one per mailbox, each with its own Gmail ids
    # Link both copies to the lead, as capture will.
    ava = session.scalars(select(Member).where(Member.email == AVA)).one()
    lead = LeadFactory(owner=ava, email="zoe@zephyr.example", name="Zoé Zephyr")
    for thread in copies:
        ThreadLeadFactory(thread=thread, lead=lead)

    html = client.get(f"/leads/{lead.id}").text
    assert html.count("data-conversation") == 1
    assert len(re.findall(r"data-message=", html)) == 1
    assert "Proposal for the pilot" in html
    assert "Zoé Zephyr &lt;zoe@zephyr.example&gt;" in html
    own = session.scalars(
        select(Thread).join(Mailbox, Mailbox.id == Thread.mailbox_id).where(Mailbox.email == AVA)
    ).one()
    assert f"https://mail.google.com/mail/u/{AVA}/#all/{own.gmail_id}" in html
    message_id = int(re.findall(r'data-message="(\d+)"', html)[0])
    assert session.get_one(Message, message_id).mailbox_id == own.mailbox_id
    body = client.get(f"/messages/{message_id}/body").text
    assert "See the <b>pilot plan</b>." in body
    assert "steal" not in body
    assert '<img src="https://tracker.example' not in body
