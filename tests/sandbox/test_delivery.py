"""Mail between accounts, lead replies and delivery status notifications."""

import base64
from collections.abc import Callable
from typing import Any

from tests.support.mail import b64, eml
from tests.support.sandbox import AVA, BEN, MIA, Control


def _text(part: dict[str, Any]) -> str:
    if part["body"].get("data"):
        return base64.urlsafe_b64decode(part["body"]["data"]).decode()
    return "".join(_text(p) for p in part.get("parts", []))


def test_unknown_recipient_gets_a_delivery_status_notification(gmail: Callable[..., Any]) -> None:
    ava = gmail(AVA).users().messages()
    raw = eml(AVA, "nobody@acme-robotics.com", "Checking in", "Still interested?")
    sent = ava.send(userId="me", body={"raw": b64(raw)}).execute()
    found = ava.list(userId="me", q="from:mailer-daemon is:unread in:inbox").execute()
    assert found["resultSizeEstimate"] == 1
    dsn = ava.get(userId="me", id=found["messages"][0]["id"]).execute()
    assert dsn["threadId"] == sent["threadId"]
    payload = dsn["payload"]
    assert payload["mimeType"] == "multipart/report"
    content_type = next(h["value"] for h in payload["headers"] if h["name"] == "Content-Type")
    assert "report-type=delivery-status" in content_type
    status = next(p for p in payload["parts"] if p["mimeType"] == "message/delivery-status")
    assert status is not None
    assert "nobody@acme-robotics.com" in _text(payload)


def test_bcc_reaches_the_recipient_without_the_header(gmail: Callable[..., Any]) -> None:
    raw = b"From: ava.reed@northwind.io\r\nTo: ben.okafor@northwind.io\r\n"
    raw += b"Bcc: mia.chen@northwind.io\r\nSubject: Plan\r\n\r\nSee you."
    gmail(AVA).users().messages().send(userId="me", body={"raw": b64(raw)}).execute()
    for reader in (BEN, MIA):
        messages = gmail(reader).users().messages()
        listed = messages.list(userId="me", q="subject:plan").execute()["messages"]
        got = messages.get(userId="me", id=listed[0]["id"], format="metadata").execute()
        names = {h["name"] for h in got["payload"]["headers"]}
        assert "Bcc" not in names
        assert "Message-ID" in names


def test_a_lead_replies_through_the_control_api(
    gmail: Callable[..., Any], control: Control
) -> None:
    control("contacts", {"emails": ["carol@acme-robotics.com"]})
    ava = gmail(AVA).users()
    sent = (
        ava.messages()
        .send(
            userId="me", body={"raw": b64(eml(AVA, "carol@acme-robotics.com", "Demo next week?"))}
        )
        .execute()
    )
    assert control("sent", method="GET")["sent"][0]["bounced"] == []
    reply = control("reply", {"mailbox": AVA, "messageId": sent["id"], "text": "Yes, Tuesday."})
    assert reply["threadId"] == sent["threadId"]
    thread = ava.threads().get(userId="me", id=sent["threadId"]).execute()
    assert [m["snippet"] for m in thread["messages"]][-1] == "Yes, Tuesday."
    assert "INBOX" in thread["messages"][-1]["labelIds"]


def test_sending_to_yourself_lands_in_inbox_and_sent(gmail: Callable[..., Any]) -> None:
    ava = gmail(AVA).users().messages()
    sent = ava.send(userId="me", body={"raw": b64(eml(AVA, AVA, "Note to self"))}).execute()
    labels = ava.get(userId="me", id=sent["id"], format="minimal").execute()["labelIds"]
    assert {"SENT", "INBOX", "UNREAD"} <= set(labels)
