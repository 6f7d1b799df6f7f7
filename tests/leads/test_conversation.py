"""The conversation, complete: attachments download through Gmail's attachments.get as the
mailbox's sharing allows, the snippet is not repeated above the body, and mail hidden by
privacy is counted, not hidden silently, in the conversations and the responsiveness
figures alike. Synced for real from the sandbox."""

from __future__ import annotations

import pytest
import requests
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Visibility
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.leads.models import Lead
from inboxcrm.mail.jobs import sync_due
from inboxcrm.runtime import Runtime
from inboxcrm.sandbox import RunningSandbox
from inboxcrm.setup import SYNC_STEPS
from tests.support.sandbox import AVA, BEN
from tests.support.web import google_signin

pytestmark = pytest.mark.google

PDF = b"%PDF-1.4 the pilot plan \x00\x01\x02 <script>alert(1)</script>"
WITH_FILE = (
    "From: Zoe Zephyr <zoe@zephyr.example>\r\n"
    f"To: {AVA}\r\n"
    "Subject: The pilot plan\r\n"
    "Message-ID: <plan-1@zephyr.example>\r\n"
    "Date: Mon, 02 Nov 2026 09:00:00 +0000\r\n"
    "MIME-Version: 1.0\r\n"
    'Content-Type: multipart/mixed; boundary="m"\r\n\r\n'
    "--m\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nThe plan is attached.\r\n"
    '--m\r\nContent-Type: text/html; name="plan.pdf"\r\n'
    'Content-Disposition: attachment; filename="Pilot plan \\"v2\\".pdf"\r\n'
    "Content-Transfer-Encoding: base64\r\n\r\n"
    + __import__("base64").b64encode(PDF).decode()
    + "\r\n--m--\r\n"
)
ANSWER = (
    f"From: {AVA}\r\nTo: zoe@zephyr.example\r\nSubject: Re: The pilot plan\r\n"
    "Message-ID: <plan-2@northwind.io>\r\nIn-Reply-To: <plan-1@zephyr.example>\r\n"
    "Date: Mon, 02 Nov 2026 10:00:00 +0000\r\n\r\nThanks, reading it now.\r\n"
)


def deliver(sandbox: RunningSandbox, to: str, eml: str, sent: bool = False) -> None:
    body = {"to": to, "eml": eml, **({"labelIds": ["SENT"]} if sent else {})}
    answer = requests.post(f"{sandbox.url}/_sandbox/deliver", json=body, timeout=10)
    assert answer.status_code == 200, answer.text


def sync(db: Database, settings: Settings) -> None:
    runtime = Runtime(db, settings)
    try:
        for running in sync_due(runtime, utcnow(), SYNC_STEPS):
            running.result()
    finally:
        runtime.stop()


@pytest.fixture
def synced(
    client: FlaskClient, app: Flask, session: Session, db: Database,
    google_settings: Settings, sandbox: RunningSandbox,
) -> Lead:  # fmt: skip
    """Ava's mailbox holds a lead's message with a PDF and her answer; Ben is signed in."""
    google_signin(app.test_client(), AVA)
    google_signin(client, BEN)
    deliver(sandbox, AVA, WITH_FILE)
    deliver(sandbox, AVA, ANSWER, sent=True)
    sync(db, google_settings)
    return session.scalars(select(Lead).where(Lead.email == "zoe@zephyr.example")).one()


def test_an_attachment_downloads_as_bytes_from_gmail(
    client: FlaskClient, session: Session, synced: Lead
) -> None:
    page = client.get(f"/leads/{synced.id}").text
    assert page.count("The plan is attached.") == 1  # the snippet, until the body opens
    link = page.split('<ul class="attachments">')[1].split('href="')[1].split('"')[0]
    answer = client.get(link)
    assert answer.status_code == 200
    assert answer.data == PDF
    assert answer.headers["Content-Type"] == "application/octet-stream"  # never its own type
    assert answer.headers["X-Content-Type-Options"] == "nosniff"
    assert answer.headers["Content-Disposition"] == (
        "attachment; filename=\"Pilot plan v2.pdf\"; filename*=UTF-8''Pilot%20plan%20v2.pdf"
    )
    assert "sandbox" in answer.headers["Content-Security-Policy"]
    assert client.get(link.rsplit("/", 1)[0] + "/7").status_code == 404


def test_privacy_holds_for_attachments_conversations_and_times(
    client: FlaskClient, session: Session, synced: Lead
) -> None:
    ava_box = session.scalars(select(Mailbox).where(Mailbox.email == AVA)).one()
    page = client.get(f"/leads/{synced.id}").text
    link = page.split('<ul class="attachments">')[1].split('href="')[1].split('"')[0]
    assert "Responsiveness" in page
    answered = page.split("<dd data-first-response>")[1].split("</dd>")[0]
    assert "later" in answered  # Ava answered, in mail Ben may read

    ava_box.visibility = Visibility.none
    session.commit()
    assert client.get(link).status_code == 404  # as if it did not exist
    page = client.get(f"/leads/{synced.id}").text
    assert "No conversations with this lead yet" not in page
    assert "1 conversation in mailboxes not shared with you." in page
    assert "The pilot plan" not in page
    first = page.split("<dt>First message in</dt><dd>")[1].split("</dd>")[0]
    assert first == "—"  # the hidden mail's times are not shown either
    assert "1 conversation in mailboxes not shared with you is left out" in page

    ava_box.visibility = Visibility.metadata
    session.commit()
    assert client.get(link).status_code == 404  # subjects and participants only


def test_a_disconnected_mailbox_says_why_its_attachment_cannot_come(
    client: FlaskClient, session: Session, synced: Lead
) -> None:
    page = client.get(f"/leads/{synced.id}").text
    link = page.split('<ul class="attachments">')[1].split('href="')[1].split('"')[0]
    box = session.scalars(select(Mailbox).where(Mailbox.email == AVA)).one()
    box.token_ciphertext = None
    session.commit()
    answer = client.get(link)
    assert answer.status_code == 409
    assert f"{AVA} is not connected, so its attachments cannot be fetched" in answer.text


def test_the_body_frame_may_be_measured_but_runs_nothing(
    client: FlaskClient, session: Session, synced: Lead
) -> None:
    page = client.get(f"/leads/{synced.id}").text
    assert 'sandbox="allow-same-origin allow-popups allow-popups-to-escape-sandbox"' in page
    assert "allow-scripts" not in page
    body = page.split('<iframe name="body-')[1].split('src="')[1].split('"')[0]
    policy = client.get(body).headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "script" not in policy.replace("default-src 'none'", "")


def test_a_revoked_grant_says_who_must_reconnect(
    client: FlaskClient, session: Session, synced: Lead, sandbox: RunningSandbox
) -> None:
    page = client.get(f"/leads/{synced.id}").text
    link = page.split('<ul class="attachments">')[1].split('href="')[1].split('"')[0]
    revoked = requests.post(
        f"{sandbox.url}/_sandbox/grants/revoke", json={"email": AVA}, timeout=10
    )
    assert revoked.json()["revoked"] >= 1
    session.expire_all()
    answer = client.get(link)
    assert answer.status_code == 409
    assert f"Google refused inboxcrm&#39;s access to {AVA}" in answer.text
