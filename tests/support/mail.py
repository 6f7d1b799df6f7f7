"""RFC 5322 messages for tests: built with the standard library (`eml`), or written header
by header exactly as they go on the wire (`raw_eml`); and the conversation several tests
deliver: Ava's proposal to Nina Berg, Ben copied, and Nina's answer."""

import base64
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from tests.support.sandbox import AVA, BEN


def eml(
    sender: str,
    to: str,
    subject: str,
    text: str = "Hello",
    *,
    html: str | None = None,
    reply_to_id: str | None = None,
    message_id: str | None = None,
    date: float | None = None,
    attachment: bytes | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Message-ID"] = message_id or make_msgid(domain="test.example")
    if date is not None:
        msg["Date"] = formatdate(date)
    if reply_to_id:
        msg["In-Reply-To"] = reply_to_id
        msg["References"] = reply_to_id
    msg.set_content(text)
    if html:
        msg.add_alternative(html, subtype="html")
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="pdf", filename="q.pdf")
    return msg.as_bytes()


def b64(raw: bytes, padded: bool = True) -> str:
    text = base64.urlsafe_b64encode(raw).decode()
    return text if padded else text.rstrip("=")


def raw_eml(*headers: str, body: str = "Hello") -> str:
    """A message whose header lines are exactly these."""
    return "\r\n".join(headers) + f"\r\n\r\n{body}\r\n"


PROPOSAL = raw_eml(
    f"From: Ava Reed <{AVA}>",
    '"Berg, Nina" <Nina.Berg@Vandelay.co.uk>'.join(["To: ", ""]),
    f"Cc: {BEN}",
    "Subject: Proposal",
    "Message-ID: <proposal@northwind.io>",
    "Date: Mon, 16 Nov 2026 09:00:00 +0000",
)
ANSWER = raw_eml(
    '"Berg, Nina" <nina.berg@vandelay.co.uk>'.join(["From: ", ""]),
    f"To: {AVA}",
    f"Cc: {BEN}",
    "Subject: Re: Proposal",
    "In-Reply-To: <proposal@northwind.io>",
    "References: <proposal@northwind.io>",
    "Message-ID: <answer@vandelay.co.uk>",
    "Date: Tue, 17 Nov 2026 10:00:00 +0000",
)


def nested_eml(depth: int, sender: str = "Lars Berg <lars@x.example>") -> bytes:
    """A MIME bomb: multipart/mixed inside multipart/mixed, `depth` levels, text inside."""
    body = b"Content-Type: text/plain\r\n\r\nThe innermost text."
    for level in reversed(range(depth)):
        boundary = f"level{level}".encode()
        body = (
            b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n--' + boundary
            + b"\r\n" + body + b"\r\n--" + boundary + b"--\r\n"
        )  # fmt: skip
    head = f"From: {sender}\r\nTo: ava@northwind.io\r\nSubject: Nested\r\nMIME-Version: 1.0\r\n"
    return head.encode() + body


def eight_bit_eml(charset: str) -> bytes:
    """Raw 8-bit headers, no RFC 2047, as some mailers still send them: a name, a subject
    and an attachment's filename in `charset`."""
    return (
        "From: Lars Øberg <lars@oberg.example>\r\n"
        "To: ava.reed@northwind.io\r\n"
        "Subject: Präsentation für Montag\r\n"
        "Message-ID: <eight-bit@oberg.example>\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nAnbei.\r\n"
        '--b\r\nContent-Type: application/pdf; name="Präsentation.pdf"\r\n'
        'Content-Disposition: attachment; filename="Präsentation.pdf"\r\n\r\n%PDF-1.4\r\n'
        "--b--\r\n"
    ).encode(charset)
