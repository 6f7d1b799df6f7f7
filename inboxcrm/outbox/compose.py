"""A Send's message, composed and checked before anything is sent (pure: no clock, no
database). One recipient, no Cc or Bcc, no header value with a line break, no message
over Gmail's size limit: each is refused with a ComposeError, never sent."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr

from inboxcrm.addresses import normalize_email
from inboxcrm.errors import Invalid
from inboxcrm.mail.parse import SEND_HEADER

# Gmail refuses a message over 25 MB (sent through the API, attachments included), so
# a larger one fails before sending rather than after.
MAX_BYTES = 25 * 1024 * 1024
# The token header (`mail.parse.SEND_HEADER`): how a draft or a sent message is found
# again even when Gmail rewrote its Message-ID (reconcile.py), and how the sync knows mail
# the app sent.
# Headers the composer sets itself: extra headers (List-Unsubscribe ...) cannot set these,
# so no extra recipient, sender or identity gets in.
_OWN = {
    "from", "to", "cc", "bcc", "reply-to", "sender", "subject", "date", "message-id",
    "in-reply-to", "references", "mime-version", "content-type",
    "content-transfer-encoding", SEND_HEADER.lower(),
}  # fmt: skip


class ComposeError(Invalid):
    """The message cannot be sent as it is; `message` says why."""


@dataclass(frozen=True)
class Outgoing:
    sender: str
    to: str
    subject: str
    text: str
    message_id: str
    token: str
    date: dt.datetime
    sender_name: str = ""
    to_name: str = ""
    html: str | None = None
    in_reply_to: str | None = None
    references: str | None = None
    headers: Sequence[tuple[str, str]] = ()  # e.g. List-Unsubscribe, checked like the rest


def new_identity(sender: str) -> tuple[str, str]:
    """A fresh token and the RFC Message-ID made from it, at the sender's domain."""
    token = secrets.token_hex(16)
    domain = sender.rpartition("@")[2] or "inboxcrm.invalid"
    return token, f"<{token}.inboxcrm@{domain}>"


def _clean(name: str, value: str) -> str:
    if any(c in value for c in "\r\n\x00"):
        raise ComposeError(f"the {name} header holds a line break", {name: "line break"})
    return value


def _one_address(name: str, value: str) -> str:
    if any(c in value for c in ',;<>"() \t\r\n\x00'):
        raise ComposeError(f"{name} must be exactly one address", {name: "one address"})
    try:
        return normalize_email(value)
    except Invalid as exc:
        raise ComposeError(f"{name}: {exc.message}", {name: "invalid address"}) from exc


def compose(out: Outgoing) -> bytes:
    """The RFC 5322 bytes of `out`, or ComposeError."""
    sender = _one_address("from", out.sender)
    to = _one_address("to", out.to)
    msg = EmailMessage(policy=SMTP)
    msg["From"] = formataddr((_clean("from", out.sender_name), sender))
    msg["To"] = formataddr((_clean("to", out.to_name), to))
    msg["Subject"] = _clean("subject", out.subject)
    msg["Date"] = format_datetime(out.date.astimezone(dt.UTC))
    msg["Message-ID"] = _clean("message-id", out.message_id)
    msg[SEND_HEADER] = _clean(SEND_HEADER, out.token)
    if out.in_reply_to:
        msg["In-Reply-To"] = _clean("in-reply-to", out.in_reply_to)
    if out.references:
        msg["References"] = _clean("references", out.references)
    for name, value in out.headers:
        _clean("header name", name)
        if name.lower() in _OWN or not name or ":" in name or " " in name:
            raise ComposeError(f"the header {name!r} cannot be added", {"headers": name})
        msg[name] = _clean(name, value)
    msg.set_content(out.text or "")
    if out.html:
        msg.add_alternative(out.html, subtype="html")
    raw = msg.as_bytes()
    if len(raw) > MAX_BYTES:
        raise ComposeError(
            f"the message is {len(raw):,} bytes; Gmail takes at most {MAX_BYTES:,}",
            {"body": "too large"},
        )
    return raw
