"""Composing is safe by construction: hostile header values, extra recipients and oversized
messages are refused before anything is sent."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from email import message_from_bytes
from email.policy import default

import pytest

from inboxcrm.outbox.compose import (
    MAX_BYTES,
    SEND_HEADER,
    ComposeError,
    Outgoing,
    compose,
    new_identity,
)

TOKEN, MESSAGE_ID = new_identity("ava.reed@northwind.io")
BASE = Outgoing(
    sender="ava.reed@northwind.io",
    sender_name="Ava Reed",
    to="nina@vandelay.example",
    to_name="Nina Berg",
    subject="Our proposal",
    text="Hi Nina",
    message_id=MESSAGE_ID,
    token=TOKEN,
    date=dt.datetime(2026, 11, 23, 9, 0, tzinfo=dt.UTC),
)


def test_a_message_has_one_recipient_its_own_message_id_and_token() -> None:
    msg = message_from_bytes(compose(BASE), policy=default)
    assert msg["To"] == "Nina Berg <nina@vandelay.example>"
    assert msg["Message-ID"] == MESSAGE_ID
    assert MESSAGE_ID.endswith("@northwind.io>")
    assert msg[SEND_HEADER] == TOKEN
    assert msg["Cc"] is None
    assert msg["Bcc"] is None
    assert msg.get_content().strip() == "Hi Nina"


def test_a_reply_carries_in_reply_to_and_references() -> None:
    reply = replace(BASE, in_reply_to="<p@x.example>", references="<o@x.example> <p@x.example>")
    msg = message_from_bytes(compose(reply), policy=default)
    assert msg["In-Reply-To"] == "<p@x.example>"
    assert msg["References"] == "<o@x.example> <p@x.example>"


@pytest.mark.parametrize(
    "change",
    [
        {"subject": "Hi\r\nBcc: everyone@victim.example"},
        {"subject": "Hi\nBcc: everyone@victim.example"},
        {"to_name": "Nina\r\nCc: other@lead.example"},
        {"sender_name": "Ava\rX-Evil: 1"},
        {"subject": "nul\x00byte"},
        {"in_reply_to": "<p@x>\r\nBcc: a@b.example"},
        {"headers": (("List-Unsubscribe", "<https://x/u/1>\r\nBcc: a@b.example"),)},
    ],
)
def test_header_values_with_line_breaks_are_refused(change: dict[str, object]) -> None:
    with pytest.raises(ComposeError, match="line break"):
        compose(replace(BASE, **change))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "to",
    [
        "nina@vandelay.example, other@lead.example",
        "nina@vandelay.example;other@lead.example",
        "Nina <nina@vandelay.example>",
        "nina@vandelay.example other@lead.example",
        "not an address",
        "",
    ],
)
def test_exactly_one_recipient_address(to: str) -> None:
    with pytest.raises(ComposeError):
        compose(replace(BASE, to=to))


@pytest.mark.parametrize("name", ["Cc", "BCC", "To", "From", "Reply-To", SEND_HEADER, "Bad Name"])
def test_extra_headers_cannot_add_recipients_or_identities(name: str) -> None:
    with pytest.raises(ComposeError):
        compose(replace(BASE, headers=((name, "other@lead.example"),)))


def test_an_extra_header_goes_in_as_given() -> None:
    headers = (("List-Unsubscribe", "<https://crm.example/u/abc>"),)
    msg = message_from_bytes(compose(replace(BASE, headers=headers)), policy=default)
    assert msg["List-Unsubscribe"] == "<https://crm.example/u/abc>"


def test_a_message_over_gmails_size_limit_is_refused_before_sending() -> None:
    with pytest.raises(ComposeError, match="at most"):
        compose(replace(BASE, text="x" * (MAX_BYTES + 1)))


def test_unicode_subjects_and_names_are_encoded_not_refused() -> None:
    raw = compose(replace(BASE, subject="Angebot für Sie ✓", to_name="Nína Bérg"))
    assert raw.isascii()  # RFC 2047 words, as every mail client reads them
    msg = message_from_bytes(raw, policy=default)
    assert msg["Subject"] == "Angebot für Sie ✓"
