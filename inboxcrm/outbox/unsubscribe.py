"""One-click unsubscribe (RFC 8058), as Gmail and Yahoo require of bulk senders.

Each send carries its own signed token naming the workspace, the lead, the address, the
sending mailbox and an opaque send id. It appears three times in the message:

- `List-Unsubscribe: <https://…/u/TOKEN>, <mailto:MAILBOX?subject=unsubscribe TOKEN>`
  with `List-Unsubscribe-Post: List-Unsubscribe=One-Click`: the mail client POSTs
  `List-Unsubscribe=One-Click` to the URL, without cookies; or mails the mailbox, and the
  sync recognises the subject when the mail comes back (`outbox/steps.py`);
- the footer's visible link, whose page (a GET) only asks to confirm: link scanners GET
  and HEAD every link seconds after delivery, and must unsubscribe no one.

The token is verified without the database; the unsubscribe is a suppression committed at
once, which every mailbox of the workspace checks at send time.
"""

from __future__ import annotations

import datetime as dt
import html
import re
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.leads.models import Lead
from inboxcrm.outbox import tokens
from inboxcrm.outbox.models import Suppression, SuppressionReason
from inboxcrm.outbox.suppression import Suppress, pattern_of, suppress

ONE_CLICK = "List-Unsubscribe=One-Click"  # the POST body, and the header that announces it
MAILTO_SUBJECT = re.compile(r"\A\s*unsubscribe\s+([A-Za-z0-9_.\-]+)\s*\Z", re.IGNORECASE)


@dataclass(frozen=True)
class Recipient:
    """Whom one send went to, from where: what an unsubscribe token carries."""

    workspace_id: int
    lead_id: int
    address: str
    mailbox_id: int
    send: str  # the send's opaque id

    def token(self, secret: str) -> str:
        payload = [self.workspace_id, self.lead_id, self.address, self.mailbox_id, self.send]
        return tokens.sign(secret, tokens.UNSUBSCRIBE, payload)

    @classmethod
    def read(cls, secret: str, token: str) -> Recipient | None:
        """The recipient a token names, or None for a bad or altered token."""
        payload = tokens.read(secret, tokens.UNSUBSCRIBE, token)
        if payload is None or len(payload) != 5:
            return None
        workspace, lead, address, mailbox, send = payload
        if not (isinstance(workspace, int) and isinstance(lead, int) and isinstance(mailbox, int)):
            return None
        if not (isinstance(address, str) and isinstance(send, str)):
            return None
        return cls(workspace, lead, address, mailbox, send)


def unsubscribe_url(base_url: str, secret: str, recipient: Recipient) -> str:
    return f"{base_url.rstrip('/')}/u/{recipient.token(secret)}"


def unsubscribe_headers(
    base_url: str, secret: str, recipient: Recipient, mailbox_email: str
) -> dict[str, str]:
    """The two headers of RFC 8058 for one send (no CR/LF can be in them: the token is
    URL-safe base64, the mailbox's address a normalized one)."""
    token = recipient.token(secret)
    mailto = f"mailto:{mailbox_email}?subject={quote('unsubscribe ' + token)}"
    return {
        "List-Unsubscribe": f"<{base_url.rstrip('/')}/u/{token}>, <{mailto}>",
        "List-Unsubscribe-Post": ONE_CLICK,
    }


@dataclass(frozen=True)
class Footer:
    text: str
    html: str


def footer(base_url: str, secret: str, recipient: Recipient, postal_address: str) -> Footer:
    """What every campaign email ends with: a visible unsubscribe link and the sender's
    postal address."""
    url = unsubscribe_url(base_url, secret, recipient)
    address = postal_address.strip()
    text = f"\n\n--\nUnsubscribe: {url}\n{address}\n"
    lines = "<br>".join(html.escape(line) for line in address.splitlines())
    markup = (
        '<div class="footer" style="margin-top:2em;font-size:12px;color:#666">'
        f'<a href="{html.escape(url)}">Unsubscribe</a><br>{lines}</div>'
    )
    return Footer(text, markup)


def mailto_token(subject: str) -> str | None:
    """The token of a mail to the `mailto:` unsubscribe address, from its subject."""
    found = MAILTO_SUBJECT.match(subject or "")
    return found.group(1) if found else None


def unsubscribe(
    session: Session,
    recipient: Recipient,
    source: str,
    now: dt.datetime,
    message_id: int | None = None,
) -> Suppression:
    """Suppress the token's address for its workspace (idempotent). Flushes."""
    lead = session.scalar(
        select(Lead.id).where(
            Lead.id == recipient.lead_id, Lead.workspace_id == recipient.workspace_id
        )
    )
    item = Suppress(recipient.address, SuppressionReason.unsubscribed, source, lead_id=lead,
                    message_id=message_id, send_ref=recipient.send[:64])  # fmt: skip
    suppress(session, recipient.workspace_id, [item], now)
    return session.scalars(
        select(Suppression).where(
            Suppression.workspace_id == recipient.workspace_id,
            Suppression.pattern == pattern_of(recipient.address),
        )
    ).one()
