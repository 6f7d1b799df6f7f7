"""Mail as a mailbox's Gmail returns it (raw RFC 5322, headers exactly as written, shaped
as Gmail's JSON), stored the way the sync stores what it fetched: `store_fetched` parses
it, stores it and runs the real sync steps (lead capture, stage labels) in the caller's
transaction, which `sync` then commits."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.mail.sync import store_fetched
from inboxcrm.setup import SYNC_STEPS
from tests.support.gmail_json import to_gmail_json

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
) -> dict[str, Any]:
    """A message as its mailbox's Gmail returns it. `sender=""` leaves From out."""
    n = next(_ids)
    lines = [f"From: {sender}"] if sender else []
    lines += [f"To: {to}"] if to else []
    lines += [f"Cc: {cc}"] if cc else []
    lines += [f"Subject: {subject}", f"Message-ID: {message_id or f'<m{n}@mail.example>'}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    raw = ("\r\n".join(lines) + "\r\n\r\nHi there\r\n").encode()
    return to_gmail_json(
        raw,
        gmail_id=f"g{n:06d}",
        thread_id=thread,
        label_ids=("SENT",) if sent else ("INBOX",),
        internal_date_ms=START_MS + minute * 60_000,
    )


def sync(session: Session, box: Mailbox, *fetched: dict[str, Any], now: dt.datetime = NOW) -> int:
    """One sync batch of fetched mail, committed; returns how many messages were new."""
    added = store_fetched(session, box, fetched, now, SYNC_STEPS)
    session.commit()
    return added
