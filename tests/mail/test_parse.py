from __future__ import annotations

import copy
import datetime as dt
import logging
import random
from email.message import EmailMessage
from typing import Any

import pytest

from inboxcrm.mail.kind import is_bounce
from inboxcrm.mail.parse import (
    MAX_BODY_CHARS,
    TRUNCATED_MARKER,
    ParsedMessage,
    parse_message,
    parse_raw,
)
from inboxcrm.mail.participants import Address
from tests.support.gmail_json import b64url, to_gmail_json
from tests.support.mail import eight_bit_eml, nested_eml


def plain_message(**headers: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Ann Smith <Ann.Smith@Acme.com>"
    msg["To"] = 'bob@northwind.io, "Lee, Carol" <carol@northwind.io>'
    msg["Cc"] = "dan+crm@Example.ORG"
    msg["Subject"] = "Pricing for Q3"
    msg["Date"] = "Mon, 23 Nov 2026 09:15:00 +0100"
    msg["Message-ID"] = "<CAF=abc123@mail.acme.com>"
    msg["In-Reply-To"] = "<parent@northwind.io>"
    msg["References"] = "<root@northwind.io> <parent@northwind.io>"
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("Hello Bob,\nhere are the prices.\n")
    return msg


def nested_message() -> EmailMessage:
    """mixed > (alternative > (plain, related > (html, inline png)), pdf)."""
    msg = plain_message()
    msg.clear_content()
    msg.set_content("Plain version: see the logo.")
    msg.add_alternative(
        '<html><body><p>HTML version <img src="cid:logo@acme"></p></body></html>',
        subtype="html",
    )
    html_part = next(p for p in msg.iter_parts() if p.get_content_type() == "text/html")
    html_part.add_related(b"\x89PNG fake", "image", "png", cid="<logo@acme>")
    msg.add_attachment(b"%PDF-1.7 fake", "application", "pdf", filename="Angebot Müller.pdf")
    return msg


def test_a_plain_message_gives_every_field() -> None:
    parsed = parse_message(to_gmail_json(plain_message()))

    assert parsed.gmail_id == "18c2f0a1b2c3d4e5"
    assert parsed.gmail_thread_id == "18c2f0a1b2c3d4e0"
    assert parsed.label_ids == ("INBOX", "UNREAD")
    assert parsed.history_id == 987_654
    assert parsed.sent_at == dt.datetime(2025, 11, 23, 10, 0, tzinfo=dt.UTC)
    assert parsed.sent_at.utcoffset() == dt.timedelta(0)
    assert parsed.size_estimate > 100
    assert parsed.snippet.startswith("Hello Bob")
    assert parsed.rfc_message_id == "<CAF=abc123@mail.acme.com>"
    assert parsed.in_reply_to == "<parent@northwind.io>"
    assert parsed.references == ("<root@northwind.io>", "<parent@northwind.io>")
    assert parsed.subject == "Pricing for Q3"
    assert parsed.from_ == Address("Ann Smith", "ann.smith@acme.com")
    assert parsed.to == (
        Address("", "bob@northwind.io"),
        Address("Lee, Carol", "carol@northwind.io"),
    )
    assert parsed.cc == (Address("", "dan+crm@example.org"),)
    assert parsed.bcc == ()
    assert parsed.text_body == "Hello Bob,\nhere are the prices.\n"
    assert parsed.html_body == ""
    assert parsed.attachments == ()
    assert parsed.content_type == "text/plain"
    assert not is_bounce(parsed)


def test_gmail_snippets_are_unescaped() -> None:
    resource = to_gmail_json(plain_message())
    resource["snippet"] = "I&#39;m &quot;in&quot; &amp; ready &lt;3"
    assert parse_message(resource).snippet == 'I\'m "in" & ready <3'


def test_message_ids_without_brackets_get_them() -> None:
    msg = plain_message()
    msg.replace_header("Message-ID", "  bare-id@host  ")
    assert parse_message(to_gmail_json(msg)).rfc_message_id == "<bare-id@host>"


def test_encoded_words_are_decoded() -> None:
    msg = plain_message()
    msg.replace_header("Subject", "Angebot für Müller — 10 % Rabatt")
    msg.replace_header("From", "José Müller <jose@bücher.de>")
    resource = to_gmail_json(msg)
    raw_subject = next(h["value"] for h in resource["payload"]["headers"] if h["name"] == "Subject")
    assert "=?utf-8?" in raw_subject.lower()  # the helper keeps the header as it travels

    parsed = parse_message(resource)
    assert parsed.subject == "Angebot für Müller — 10 % Rabatt"
    assert parsed.from_ == Address("José Müller", "jose@bücher.de")


def test_nested_alternative_related_and_attachments() -> None:
    parsed = parse_message(to_gmail_json(nested_message()))

    assert parsed.content_type == "multipart/mixed"
    assert parsed.text_body == "Plain version: see the logo.\n"
    assert '<img src="cid:logo@acme">' in parsed.html_body
    logo, pdf = parsed.attachments
    assert logo.mime_type == "image/png"
    assert logo.content_id == "logo@acme"
    assert logo.inline
    assert logo.size == len(b"\x89PNG fake")
    assert pdf.filename == "Angebot Müller.pdf"
    assert pdf.mime_type == "application/pdf"
    assert not pdf.inline
    assert pdf.attachment_id is not None
    assert pdf.attachment_id.startswith("ANGjdJ")
    assert pdf.size == len(b"%PDF-1.7 fake")
    assert pdf.part_id == "1"


def test_base64url_with_and_without_padding_reads_the_same() -> None:
    msg = plain_message()
    msg.set_content("ab")  # 2 bytes + newline: padding needed
    padded = parse_message(to_gmail_json(msg, pad=True))
    unpadded = parse_message(to_gmail_json(msg, pad=False))
    assert padded.text_body == unpadded.text_body == "ab\n"


def _with_body(data: bytes, content_type: str) -> dict[str, Any]:
    resource = to_gmail_json(plain_message())
    resource["payload"]["headers"] = [
        h for h in resource["payload"]["headers"] if h["name"].lower() != "content-type"
    ] + [{"name": "Content-Type", "value": content_type}]
    resource["payload"]["body"] = {"size": len(data), "data": b64url(data)}
    return resource


@pytest.mark.parametrize(
    ("data", "content_type", "expected"),
    [
        ("Grüße".encode("iso-8859-1"), "text/plain; charset=ISO-8859-1", "Grüße"),
        ("Grüße".encode(), 'text/plain; charset="x-no-such-charset"', "Grüße"),
        ("“quoted”".encode("cp1252"), "text/plain; charset=utf-8", "“quoted”"),
        ("Привет".encode("koi8-r"), "text/plain; charset=koi8-r", "Привет"),
        ("日本語".encode("iso-2022-jp"), "text/plain; charset=iso-2022-jp", "日本語"),
        (b"\x81\x8d\x90 odd", "text/plain; charset=utf-8", "\ufffd\ufffd\ufffd odd"),
    ],
)
def test_charsets_are_honoured_and_wrong_ones_fall_back(
    data: bytes, content_type: str, expected: str
) -> None:
    assert parse_message(_with_body(data, content_type)).text_body == expected


def test_bad_base64_is_dropped_and_logged_with_the_gmail_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    resource = to_gmail_json(plain_message(), gmail_id="badb64")
    resource["payload"]["body"]["data"] = "A"  # one character can never be base64
    with caplog.at_level(logging.WARNING, logger="inboxcrm.mail.parse"):
        parsed = parse_message(resource)
    assert parsed.text_body == ""
    assert parsed.subject == "Pricing for Q3"
    assert "badb64" in caplog.text
    assert "bad base64" in caplog.text


def test_duplicate_headers_first_wins_and_address_lists_join() -> None:
    resource = to_gmail_json(plain_message())
    headers = resource["payload"]["headers"]
    headers += [
        {"name": "From", "value": "Mallory <mallory@evil.io>"},
        {"name": "SUBJECT", "value": "second subject"},
        {"name": "To", "value": "eve@else.io"},
    ]
    parsed = parse_message(resource)
    assert parsed.from_ == Address("Ann Smith", "ann.smith@acme.com")
    assert parsed.subject == "Pricing for Q3"
    assert [a.email for a in parsed.to] == [
        "bob@northwind.io",
        "carol@northwind.io",
        "eve@else.io",
    ]


def test_missing_headers_give_empty_fields_and_internal_date() -> None:
    resource = to_gmail_json(plain_message())
    resource["payload"]["headers"] = [{"name": "Content-Type", "value": "text/plain"}]
    parsed = parse_message(resource)
    assert parsed.from_ is None
    assert parsed.subject == ""
    assert parsed.rfc_message_id is None
    assert parsed.references == ()
    assert parsed.sent_at == dt.datetime(2025, 11, 23, 10, 0, tzinfo=dt.UTC)
    assert parsed.text_body.startswith("Hello Bob")


def test_unparseable_addresses_are_left_out() -> None:
    resource = to_gmail_json(plain_message())
    for header in resource["payload"]["headers"]:
        if header["name"] == "To":
            header["value"] = "not an address, <>, ok@fine.io, @nobody, x@"
        if header["name"] == "From":
            header["value"] = "Just A Name"
    parsed = parse_message(resource)
    assert parsed.to == (Address("", "ok@fine.io"),)
    assert parsed.from_ is None


def test_huge_bodies_are_truncated_with_a_marker(caplog: pytest.LogCaptureFixture) -> None:
    msg = plain_message()
    msg.set_content("x" * (20 * 1024 * 1024), cte="base64")
    with caplog.at_level(logging.WARNING):
        parsed = parse_message(to_gmail_json(msg, gmail_id="big1"))
    assert len(parsed.text_body) == MAX_BODY_CHARS + len(TRUNCATED_MARKER)
    assert parsed.text_body.endswith(TRUNCATED_MARKER)
    assert "big1" in caplog.text
    assert "truncated" in caplog.text


def forwarded_message() -> EmailMessage:
    inner = plain_message()
    inner.replace_header("Subject", "Original question")
    inner.replace_header("From", "Inner Sender <inner@client.io>")
    outer = EmailMessage()
    outer["From"] = "rep@northwind.io"
    outer["To"] = "boss@northwind.io"
    outer["Subject"] = "Fwd: Original question"
    outer.set_content("FYI, see below.")
    outer.add_attachment(inner)
    return outer


def test_forwarded_messages_are_attachments_not_bodies() -> None:
    parsed = parse_message(to_gmail_json(forwarded_message()))
    assert parsed.text_body == "FYI, see below.\n"
    assert parsed.from_ == Address("", "rep@northwind.io")
    (forward,) = parsed.attachments
    assert forward.mime_type == "message/rfc822"
    assert forward.filename == "Original question.eml"


def bounce(action: str = "failed") -> bytes:
    return (
        "From: Mail Delivery Subsystem <mailer-daemon@googlemail.com>\r\n"
        "To: rep@northwind.io\r\n"
        "Subject: Delivery Status Notification (Failure)\r\n"
        "Auto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type="delivery-status"; boundary="b1"\r\n'
        "\r\n--b1\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        "Your message wasn't delivered to gone@client.io.\r\n"
        "\r\n--b1\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; googlemail.com\r\n\r\n"
        "Final-Recipient: rfc822; Gone@Client.io\r\n"
        f"Action: {action}\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "Original-Recipient: rfc822;ok@client.io\r\n"
        "Final-Recipient: rfc822; ok@client.io\r\nAction: delivered\r\nStatus: 2.0.0\r\n"
        "\r\n--b1\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        "Message-ID: <sent@northwind.io>\r\n"
        "\r\n--b1--\r\n"
    ).encode()


def test_delivery_status_notifications_expose_the_failed_recipients() -> None:
    parsed = parse_message(to_gmail_json(bounce()))
    assert parsed.content_type == "multipart/report"
    assert parsed.report_type == "delivery-status"
    assert is_bounce(parsed)
    assert parsed.failed_recipients == ("gone@client.io",)
    assert parsed.text_body.startswith("Your message wasn't delivered")
    assert parsed.auto_submitted == "auto-replied"


def test_a_delay_notification_is_not_a_bounce() -> None:
    parsed = parse_message(to_gmail_json(bounce(action="delayed")))
    assert not is_bounce(parsed)
    assert parsed.failed_recipients == ()


def test_bulk_headers_are_kept() -> None:
    msg = plain_message(
        List_Unsubscribe="<https://news.io/u/1>, <mailto:u@news.io>",
        List_Unsubscribe_Post="List-Unsubscribe=One-Click",
        List_Id="Weekly <weekly.news.io>",
        Precedence="bulk",
        Return_Path="<bounce-123@news.io>",
    )
    parsed = parse_message(to_gmail_json(msg))
    assert parsed.list_unsubscribe == "<https://news.io/u/1>, <mailto:u@news.io>"
    assert parsed.list_unsubscribe_post == "List-Unsubscribe=One-Click"
    assert parsed.list_id == "Weekly <weekly.news.io>"
    assert parsed.precedence == "bulk"
    assert parsed.return_path == "<bounce-123@news.io>"


@pytest.mark.parametrize("build", [plain_message, nested_message, forwarded_message, bounce])
def test_parse_raw_agrees_with_parse_message(build: Any) -> None:
    msg = build()
    from_api = parse_message(to_gmail_json(msg))
    from_raw = parse_raw(msg if isinstance(msg, bytes) else msg.as_bytes())
    for name in ("subject", "from_", "to", "cc", "text_body", "html_body", "rfc_message_id"):
        assert getattr(from_raw, name) == getattr(from_api, name), name
    assert from_raw.failed_recipients == from_api.failed_recipients
    assert [(a.filename, a.mime_type, a.size, a.inline) for a in from_raw.attachments] == [
        (a.filename, a.mime_type, a.size, a.inline) for a in from_api.attachments
    ]


def test_parse_raw_dates_and_snippets_come_from_the_message() -> None:
    parsed = parse_raw(plain_message().as_bytes())
    assert parsed.sent_at == dt.datetime(2026, 11, 23, 8, 15, tzinfo=dt.UTC)
    assert parsed.snippet == "Hello Bob, here are the prices."
    assert parsed.gmail_id == ""


def test_parse_raw_survives_broken_mime() -> None:
    raw = (
        b"From: =?bogus-charset?Q?Caf=E9?= <cafe@x.io>\r\n"
        b"Subject: =?utf-8?B?!!!notbase64?=\r\n"
        b"Subject: second\r\n"
        b'Content-Type: multipart/mixed; boundary="nope"\r\n'
        b"Date: yesterday-ish\r\n\r\n"
        b"no boundary ever appears\r\n\xff\xfe raw bytes\r\n"
    )
    parsed = parse_raw(raw)
    assert parsed.from_ is not None
    assert parsed.from_.email == "cafe@x.io"
    assert parsed.sent_at is None
    assert isinstance(parsed.subject, str)


def test_parse_raw_decodes_eight_bit_headers() -> None:
    raw = "From: Zoë <zoe@x.io>\r\nSubject: Café\r\n\r\nbody\r\n".encode()
    parsed = parse_raw(raw)
    assert parsed.subject == "Café"
    assert parsed.from_ == Address("Zoë", "zoe@x.io")


def test_absurd_nesting_is_cut_not_fatal() -> None:
    payload: dict[str, Any] = {"mimeType": "text/plain", "body": {"data": b64url(b"deep")}}
    for _ in range(500):
        payload = {"mimeType": "multipart/mixed", "parts": [payload]}
    parsed = parse_message({"id": "bomb", "payload": payload})
    assert parsed.gmail_id == "bomb"
    assert parsed.text_body == ""


@pytest.mark.parametrize("charset", ["utf-8", "cp1252"])
def test_parse_raw_reads_an_eight_bit_filename_as_its_headers(charset: str) -> None:
    parsed = parse_raw(eight_bit_eml(charset))
    assert parsed.from_ == Address("Lars Øberg", "lars@oberg.example")
    assert parsed.subject == "Präsentation für Montag"
    assert [a.filename for a in parsed.attachments] == ["Präsentation.pdf"]


@pytest.mark.parametrize("depth", [500, 5000])
def test_a_raw_mime_bomb_keeps_its_headers_and_never_raises(
    depth: int, caplog: pytest.LogCaptureFixture
) -> None:
    """Past `_MAX_DEPTH` the inner parts are dropped; past the stdlib parser's recursion
    (5,000 levels) the body is, and the headers are still read."""
    with caplog.at_level(logging.WARNING):
        parsed = parse_raw(nested_eml(depth), gmail_id="bomb")
    assert parsed.from_ == Address("Lars Berg", "lars@x.example")
    assert parsed.subject == "Nested"
    assert parsed.text_body == ""
    assert "MIME nesting too deep" in caplog.text
    shallow = parse_raw(nested_eml(3))
    assert shallow.text_body == "The innermost text."


@pytest.mark.parametrize(
    "resource",
    [
        {},
        {"id": "x", "payload": None},
        {"id": "x", "payload": "garbage", "internalDate": "soon", "historyId": []},
        {"id": "x", "labelIds": None, "payload": {"headers": "nope", "parts": [None, 3]}},
        {"id": "x", "payload": {"headers": [{"name": "From"}], "body": {"data": 7}}},
        {"id": "x", "payload": {"mimeType": None, "body": [], "parts": {}}},
    ],
)
def test_malformed_resources_never_raise(resource: dict[str, Any]) -> None:
    parsed = parse_message(resource)
    assert isinstance(parsed, ParsedMessage)
    assert parsed.gmail_id == resource.get("id", "")


def test_randomly_damaged_resources_never_raise() -> None:
    rng = random.Random(5)
    base = to_gmail_json(nested_message())
    junk: list[Any] = [None, "", "=?x?", 0, -1, [], {}, [None], "A", {"data": "%%"}]

    def damage(node: Any) -> None:
        if isinstance(node, dict):
            for key in list(node):
                roll = rng.random()
                if roll < 0.08:
                    del node[key]
                elif roll < 0.16:
                    node[key] = rng.choice(junk)
                else:
                    damage(node[key])
        elif isinstance(node, list):
            for item in node:
                damage(item)

    for _ in range(300):
        resource = copy.deepcopy(base)
        damage(resource)
        assert isinstance(parse_message(resource), ParsedMessage)


_BROKEN_HEAD = b"From: postmaster@mx.example\r\nTo: ava@us.example\r\nSubject: Undeliverable\r\n"
_BROKEN_MIME = {
    # The boundary parameter unfolded onto a line of its own: the stdlib sees no boundary.
    "boundary on a line of its own": _BROKEN_HEAD
    + b'Content-Type: multipart/mixed; boundary="outer"\r\n\r\n--outer\r\n'
    b'Content-Type: multipart/alternative;\r\nboundary="inner"\r\n\r\n--inner\r\n'
    b"Content-Type: text/plain\r\n\r\n550 no such user here\r\n--inner--\r\n--outer--\r\n",
    # A Content-Type that lost its ";": still a text part, not an attachment.
    "type without its semicolon": _BROKEN_HEAD
    + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
    b'Content-Type: text/plain\r\n   charset="us-ascii"\r\n\r\n550 no such user here\r\n'
    b"--b--\r\n",
    # A boundary declared that the body never uses: the body is the text.
    "boundary never used": _BROKEN_HEAD
    + b'Content-Type: multipart/report; boundary="unused"\r\n\r\n550 no such user here\r\n',
}


@pytest.mark.parametrize("shape", sorted(_BROKEN_MIME))
def test_a_bounce_with_broken_mime_still_gives_its_text(
    shape: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        parsed = parse_raw(_BROKEN_MIME[shape], gmail_id="broken")
    assert parsed.text_body.splitlines()[0] == "550 no such user here"
    assert not parsed.attachments
    mended = {"boundary on a line of its own": "split by its body's delimiters",
              "boundary never used": "without parts read as text"}.get(shape, "")  # fmt: skip
    assert mended in caplog.text  # what was mended is logged with the message
