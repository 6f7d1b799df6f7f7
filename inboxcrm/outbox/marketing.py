"""Marketing mail, composed as the law and the mailbox providers want it (pure): what a
campaign's or a sequence step's Send carries on top of its rendered text, made at commit
time because it is signed per send (the send's id) and the tracking tokens carry the
commit time.

- RFC 8058 `List-Unsubscribe` (the https URL and a `mailto:` back to the sending mailbox)
  with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`;
- the footer: a visible unsubscribe link and the workspace's postal address, in both parts;
- when tracking is on, every link through a signed click redirect, the open pixel and the
  link only machines follow (`tracking.track`).

A one-off email a rep writes carries none of it (`dispatch` asks `is_marketing`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from inboxcrm.outbox.models import SourceKind
from inboxcrm.outbox.tracking import Tracked, track
from inboxcrm.outbox.unsubscribe import Recipient, footer, unsubscribe_headers

MARKETING = frozenset({SourceKind.campaign, SourceKind.step, SourceKind.test})


def is_marketing(kind: SourceKind) -> bool:
    return kind in MARKETING


@dataclass(frozen=True)
class Marked:
    """A marketing message's parts and its extra headers."""

    text: str
    html: str | None
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Sender:
    """What the marketing parts are signed with and point to: the app's absolute base URL
    (the clock knows it from `INBOXCRM_BASE_URL`), its secret, the workspace's postal
    address and tracking setting."""

    base_url: str
    secret: str
    postal_address: str
    tracking: bool


def mark(
    sender: Sender,
    recipient: Recipient,
    mailbox_email: str,
    text: str,
    html: str | None,
    committed_at: dt.datetime,
) -> Marked:
    """The Send's text and HTML with the footer (and tracking), and the RFC 8058 headers."""
    foot = footer(sender.base_url, sender.secret, recipient, sender.postal_address)
    body_html = html
    if body_html is not None:
        body_html = _before_body_end(body_html, foot.html)
        if sender.tracking:
            sent = Tracked(recipient.workspace_id, recipient.lead_id, recipient.send, committed_at)
            body_html = track(body_html, sender.base_url, sender.secret, sent)
    headers = unsubscribe_headers(sender.base_url, sender.secret, recipient, mailbox_email)
    return Marked(text.rstrip("\n") + foot.text, body_html, tuple(headers.items()))


def _before_body_end(html: str, added: str) -> str:
    lower = html.lower()
    at = lower.rfind("</body")
    return html + added if at < 0 else html[:at] + added + html[at:]
