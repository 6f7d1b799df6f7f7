"""The `q` search language."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.support.mail import b64, eml
from tests.support.sandbox import AVA, Control

DAY = 86400.0


@pytest.fixture
def mailbox(gmail: Callable[..., Any], control: Control) -> Callable[[str], set[str]]:
    """Four messages over 40 days; returns a search function giving subjects."""
    now = control("clock", method="GET")["now"]
    users = gmail(AVA).users()
    label = users.labels().create(userId="me", body={"name": "CRM/MQL"}).execute()
    specs = [
        ("carol@acme.example", "Kickoff call", "agenda attached", 40, ["INBOX"]),
        ("dan@globex.example", "Invoice 42", "please pay", 10, ["INBOX", "UNREAD"]),
        ("carol@acme.example", "Re: Kickoff call", "sounds good", 2, ["INBOX", label["id"]]),
    ]
    for sender, subject, text, age, labels in specs:
        raw = eml(sender, AVA, subject, text, date=now - age * DAY, message_id=f"<{age}@t.example>")
        users.messages().import_(userId="me", body={"raw": b64(raw), "labelIds": labels}).execute()
    control("contacts", {"emails": ["eve@initech.example"]})
    users.messages().send(
        userId="me", body={"raw": b64(eml(AVA, "eve@initech.example", "Hi Eve"))}
    ).execute()

    def search(q: str) -> set[str]:
        found = users.messages().list(userId="me", q=q).execute().get("messages", [])
        return {
            users.messages().get(userId="me", id=m["id"], format="metadata",
                                 metadataHeaders=["Subject"]).execute()["payload"]["headers"][0]["value"]
            for m in found
        }  # fmt: skip

    return search


def test_header_and_label_searches(mailbox: Callable[[str], set[str]]) -> None:
    assert mailbox("from:carol@acme.example") == {"Kickoff call", "Re: Kickoff call"}
    assert mailbox("from:acme subject:kickoff -subject:re") == {"Kickoff call"}
    assert mailbox("label:crm-mql") == {"Re: Kickoff call"}
    assert mailbox("label:CRM/MQL") == {"Re: Kickoff call"}
    assert mailbox("rfc822msgid:<10@t.example>") == {"Invoice 42"}
    assert mailbox("rfc822msgid:10@t.example") == {"Invoice 42"}
    assert mailbox("to:eve@initech.example") == {"Hi Eve"}
    assert mailbox("in:sent") == {"Hi Eve"}
    assert mailbox("is:unread") == {"Invoice 42"}
    assert mailbox('"please pay"') == {"Invoice 42"}
    assert mailbox("agenda OR pay") == {"Kickoff call", "Invoice 42"}


def test_date_searches(mailbox: Callable[[str], set[str]], control: Control) -> None:
    now = control("clock", method="GET")["now"]
    assert mailbox("newer_than:7d") == {"Re: Kickoff call", "Hi Eve"}
    assert mailbox("older_than:30d") == {"Kickoff call"}
    assert mailbox(f"after:{int(now - 20 * DAY)} before:{int(now - 5 * DAY)}") == {"Invoice 42"}
    assert mailbox("before:2000/01/01") == set()
    assert mailbox("after:2000-01-01 from:dan") == {"Invoice 42"}
