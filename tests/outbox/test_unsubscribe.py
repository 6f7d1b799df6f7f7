"""One-click unsubscribe as mail clients and link scanners use it: the RFC 8058 POST
with no cookies and no CSRF token unsubscribes at once and stops every mailbox; a GET
(what a scanner does) changes nothing; a bad or tampered token gets a clear page."""

from __future__ import annotations

from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Role
from inboxcrm.errors import Forbidden, Invalid
from inboxcrm.outbox import tokens
from inboxcrm.outbox.models import Suppression, SuppressionReason
from inboxcrm.outbox.settings import (
    campaign_problems,
    require_campaign_ready,
    save_settings,
    tracking_on,
)
from inboxcrm.outbox.suppression import suppressed
from inboxcrm.outbox.unsubscribe import Recipient, footer, mailto_token, unsubscribe_headers
from tests.factories import LeadFactory, MailboxFactory, MemberFactory
from tests.support.web import csrf_token, sign_in

BASE = "http://127.0.0.1:5000"


@pytest.fixture
def recipient(session: Session) -> Recipient:
    lead = LeadFactory(email="nina@vandelay.example")
    box = MailboxFactory(member=lead.owner)
    return Recipient(lead.workspace_id, lead.id, "nina@vandelay.example", box.id, "send-17")


def test_the_headers_carry_the_url_and_the_mailto_with_one_token(
    app: Flask, recipient: Recipient
) -> None:
    headers = unsubscribe_headers(BASE, app.secret_key, recipient, "ava@northwind.io")  # type: ignore[arg-type]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url, mailto = (part.strip(" <>") for part in headers["List-Unsubscribe"].split(","))
    assert url.startswith(f"{BASE}/u/")
    assert mailto.startswith("mailto:ava@northwind.io?subject=")
    subject = unquote(mailto.split("subject=", 1)[1])
    assert mailto_token(subject) == url.rsplit("/", 1)[1]
    # The headers go into a real message unchanged: no CR/LF, nothing folded into them.
    message = EmailMessage()
    for name, value in headers.items():
        message[name] = value
    assert "\r" not in headers["List-Unsubscribe"]
    assert "\n" not in headers["List-Unsubscribe"]
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_the_one_click_post_without_cookies_unsubscribes_every_mailbox_at_once(
    app: Flask, client: FlaskClient, session: Session, recipient: Recipient
) -> None:
    url = f"/u/{recipient.token(app.secret_key)}"  # type: ignore[arg-type]
    answer = client.post(
        url,
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert answer.status_code == 200, answer.text
    assert "You are unsubscribed" in answer.text
    assert "Set-Cookie" not in answer.headers
    session.expire_all()
    found = suppressed(session, recipient.workspace_id, ["Nina@Vandelay.example"])
    row = found["Nina@Vandelay.example"]
    assert (row.reason, row.source, row.send_ref) == (
        SuppressionReason.unsubscribed,
        "one_click",
        "send-17",
    )
    assert row.lead_id == recipient.lead_id
    # Again (a client retrying): still one row, still 200.
    assert client.post(url, data={"List-Unsubscribe": "One-Click"}).status_code == 200
    assert len(session.scalars(select(Suppression)).all()) == 1


def test_a_get_or_head_of_the_link_changes_nothing_and_asks_to_confirm(
    app: Flask, client: FlaskClient, session: Session, recipient: Recipient
) -> None:
    url = f"/u/{recipient.token(app.secret_key)}"  # type: ignore[arg-type]
    page = client.get(url)
    assert page.status_code == 200
    assert 'name="confirm"' in page.text
    assert "Unsubscribe" in page.text
    assert client.head(url).status_code == 200
    assert session.scalars(select(Suppression)).all() == []
    # A POST without the one-click body or the button (not a mail client): nothing either.
    assert client.post(url, data={"other": "1"}).status_code == 400
    assert session.scalars(select(Suppression)).all() == []
    # The person presses the button.
    assert client.post(url, data={"confirm": "1"}).status_code == 200
    assert len(session.scalars(select(Suppression)).all()) == 1


@pytest.mark.parametrize("change", ["flip", "cut", "garbage", "other_secret", "other_purpose"])
def test_a_bad_or_tampered_token_gets_a_clear_page_and_unsubscribes_no_one(
    app: Flask, client: FlaskClient, session: Session, recipient: Recipient, change: str
) -> None:
    token = recipient.token(app.secret_key)  # type: ignore[arg-type]
    if change == "flip":
        token = token[:5] + ("A" if token[5] != "A" else "B") + token[6:]
    elif change == "cut":
        token = token[:-4]
    elif change == "garbage":
        token = "not-a-token"
    elif change == "other_secret":
        token = recipient.token("another-secret-" + "y" * 32)
    else:  # someone else's address in a token signed for a tracking pixel
        token = tokens.sign(app.secret_key, tokens.OPEN, [1, 1, "x@y.example", 1, "s"])  # type: ignore[arg-type]
    for answer in (client.get(f"/u/{token}"), client.post(f"/u/{token}", data={"confirm": "1"})):
        assert answer.status_code == 400
        assert "This link does not work" in answer.text
    assert session.scalars(select(Suppression)).all() == []


def test_the_footer_shows_the_link_and_the_postal_address(app: Flask, recipient: Recipient) -> None:
    shown = footer(BASE, app.secret_key, recipient, "Northwind <Inc.>\n1 Main St")  # type: ignore[arg-type]
    assert f"{BASE}/u/" in shown.text
    assert "1 Main St" in shown.text
    assert ">Unsubscribe</a>" in shown.html
    assert "Northwind &lt;Inc.&gt;<br>1 Main St" in shown.html
    assert urlsplit(shown.html.split('href="', 1)[1].split('"', 1)[0]).path.startswith("/u/")


def test_no_campaign_launches_without_a_postal_address_which_only_admins_set(
    session: Session,
) -> None:
    admin = MemberFactory(role=Role.admin)
    rep = MemberFactory(workspace=admin.workspace)
    assert campaign_problems(session, admin.workspace_id)
    with pytest.raises(Invalid, match="postal address"):
        require_campaign_ready(session, admin.workspace_id)
    with pytest.raises(Forbidden):
        save_settings(session, rep, "1 Main St", True)
    save_settings(session, admin, "  Northwind Inc.\n 1 Main St  ", True)
    session.commit()
    assert campaign_problems(session, admin.workspace_id) == []
    require_campaign_ready(session, admin.workspace_id)


def test_admins_set_the_postal_address_and_tracking_on_the_sending_page(
    client: FlaskClient, session: Session
) -> None:
    admin = MemberFactory(role=Role.admin)
    rep = MemberFactory(workspace=admin.workspace)
    rep_client = sign_in(client.application.test_client(), rep)
    page = rep_client.get("/settings/sending")
    assert "Only admins change these settings." in page.text
    refused = rep_client.post(
        "/settings/sending",
        data={"csrf_token": csrf_token(page.text), "postal_address": "x", "tracking": "1"},
    )
    assert refused.status_code == 403
    page = sign_in(client, admin).get("/settings/sending")
    saved = client.post(
        "/settings/sending",
        data={"csrf_token": csrf_token(page.text), "postal_address": "1 Main St", "tracking": "1"},
    )
    assert saved.status_code == 302
    assert "1 Main St" in client.get("/settings/sending").text
    assert tracking_on(session, admin.workspace_id)
    assert campaign_problems(session, admin.workspace_id) == []
