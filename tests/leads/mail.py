"""Mail for capture tests: raw RFC 5322 messages (headers exactly as written), shaped as
Gmail returns them, parsed, stored and captured the way a sync batch is."""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member, Role, Workspace
from inboxcrm.accounts.service import add_member, create_workspace
from inboxcrm.leads.capture.batch import Captured, capture_messages
from inboxcrm.mail.parse import ParsedMessage, parse_message
from inboxcrm.mail.store import store_messages
from tests.mail.gmail_json import to_gmail_json

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
START_MS = 1_763_892_000_000  # 2025-11-23 10:00 UTC: mail is older than NOW
_ids = itertools.count(1)


def mail(
    sender: str,
    to: str = "",
    *,
    cc: str = "",
    thread: str = "t1",
    minute: int = 0,
    headers: dict[str, str] | None = None,
    sent: bool = False,
    message_id: str | None = None,
    subject: str = "Hello",
) -> ParsedMessage:
    """A message as its mailbox's Gmail returns it. `sender=""` leaves From out."""
    n = next(_ids)
    lines = [f"From: {sender}"] if sender else []
    lines += [f"To: {to}"] if to else []
    lines += [f"Cc: {cc}"] if cc else []
    lines += [f"Subject: {subject}", f"Message-ID: {message_id or f'<m{n}@mail.example>'}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    raw = ("\r\n".join(lines) + "\r\n\r\nHi there\r\n").encode()
    resource = to_gmail_json(
        raw,
        gmail_id=f"g{n:06d}",
        thread_id=thread,
        label_ids=("SENT",) if sent else ("INBOX",),
        internal_date_ms=START_MS + minute * 60_000,
    )
    return parse_message(resource)


def team(session: Session, domain: str | None = "team.example") -> Workspace:
    workspace = create_workspace(session, f"Team {next(_ids)}", domain)
    session.commit()
    return workspace


def mailbox(session: Session, workspace: Workspace, email: str, role: Role = Role.rep) -> Mailbox:
    """A member of the workspace and their connected mailbox."""
    member: Member = add_member(session, workspace, email, role, email.split("@")[0].title())
    box = Mailbox(workspace_id=workspace.id, member_id=member.id, email=member.email)
    session.add(box)
    session.commit()
    return box


def sync(session: Session, box: Mailbox, *batch: ParsedMessage, now: dt.datetime = NOW) -> Captured:
    """Store a batch and capture it in one transaction, as the sync does."""
    stored = store_messages(session, box, list(batch))
    captured = capture_messages(session, box.workspace_id, stored.messages, now)
    session.commit()
    return captured
