"""Planning sends: a Send row per (source, lead), planned once however often it is asked
for, and the mailbox's sending row it will be paced by. Services flush; callers commit."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.addresses import normalize_email
from inboxcrm.db import chunks, conflict_insert
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.compose import ComposeError
from inboxcrm.outbox.models import MailboxSending, Send, SourceKind
from inboxcrm.outbox.windows import Window


def sending_of(session: Session, mailbox: Mailbox) -> MailboxSending:
    """The mailbox's sending row, made on first use (two planners at once make one)."""
    found = session.scalar(select(MailboxSending).where(MailboxSending.mailbox_id == mailbox.id))
    if found is not None:
        return found
    row = MailboxSending(workspace_id=mailbox.workspace_id, mailbox_id=mailbox.id)
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        return session.scalars(
            select(MailboxSending).where(MailboxSending.mailbox_id == mailbox.id)
        ).one()
    return row


def plan_send(
    session: Session,
    *,
    source_kind: SourceKind,
    source_id: str,
    lead: Lead,
    mailbox: Mailbox,
    subject: str,
    text: str,
    due_at: dt.datetime,
    html: str | None = None,
    window: Window | None = None,
    member_id: int | None = None,
    to_email: str | None = None,
    thread: tuple[str, str | None, str | None] | None = None,
    stale_after: dt.timedelta = dt.timedelta(hours=72),
) -> Send:
    """The Send of `source` to `lead`, planned to go at `due_at` (inside `window`, in the
    lead's timezone; None: any time). Asked for twice, it is the same Send. `thread` is
    a reply's (Gmail thread id, In-Reply-To, References)."""
    if lead.workspace_id != mailbox.workspace_id:
        raise ComposeError("the lead and the mailbox are in different workspaces")
    key = (lead.workspace_id, source_kind, str(source_id), lead.id)
    existing = _existing(session, *key)
    if existing is not None:
        return existing
    thread_id, in_reply_to, references = thread or (None, None, None)
    values: dict[str, Any] = {
        "workspace_id": lead.workspace_id,
        "source_kind": source_kind,
        "source_id": str(source_id),
        "lead_id": lead.id,
        "mailbox_id": mailbox.id,
        "member_id": member_id,
        "to_email": normalize_email(to_email or lead.email),
        "subject": subject,
        "body_text": text,
        "body_html": html,
        "window": window.to_json() if window is not None else None,
        "stale_after_hours": max(1, int(stale_after.total_seconds() // 3600)),
        "planned_at": due_at,
        "due_at": due_at,
        "gmail_thread_hint": thread_id,
        "in_reply_to": in_reply_to,
        "references": references,
    }
    sending_of(session, mailbox)
    send = Send(**values)
    try:
        with session.begin_nested():
            session.add(send)
    except IntegrityError:  # planned meanwhile by another request: that one stands
        found = _existing(session, *key)
        if found is None:
            raise
        return found
    return send


def _existing(
    session: Session, workspace_id: int, kind: SourceKind, source_id: str, lead_id: int
) -> Send | None:
    return session.scalar(
        select(Send).where(
            Send.workspace_id == workspace_id,
            Send.source_kind == kind,
            Send.source_id == source_id,
            Send.lead_id == lead_id,
        )
    )


@dataclass(frozen=True)
class Planned:
    """One Send of many to plan at once (`plan_many`)."""

    source_id: str
    lead_id: int
    mailbox_id: int
    to_email: str
    subject: str
    text: str
    due_at: dt.datetime
    html: str | None = None
    member_id: int | None = None
    window: Window | None = None
    thread: tuple[str, str | None, str | None] | None = None
    stale_after: dt.timedelta = dt.timedelta(hours=72)


def plan_many(
    session: Session, workspace_id: int, source_kind: SourceKind, sends: Sequence[Planned]
) -> dict[tuple[str, int], int]:
    """`plan_send` for many at once, set-based: a Send already planned for a (source,
    lead) stands and is not planned again. Returns each Send's id by (source id, lead)."""
    if not sends:
        return {}
    for mailbox_id in sorted({p.mailbox_id for p in sends}):
        sending_of(session, session.get_one(Mailbox, mailbox_id))
    rows = []
    for p in sends:
        thread_id, in_reply_to, references = p.thread or (None, None, None)
        rows.append({
            "workspace_id": workspace_id, "source_kind": source_kind, "source_id": p.source_id,
            "lead_id": p.lead_id, "mailbox_id": p.mailbox_id, "member_id": p.member_id,
            "to_email": normalize_email(p.to_email), "subject": p.subject,
            "body_text": p.text, "body_html": p.html,
            "window": p.window.to_json() if p.window is not None else None,
            "stale_after_hours": max(1, int(p.stale_after.total_seconds() // 3600)),
            "planned_at": p.due_at, "due_at": p.due_at, "gmail_thread_hint": thread_id,
            "in_reply_to": in_reply_to, "references": references,
        })  # fmt: skip
    keys = ["workspace_id", "source_kind", "source_id", "lead_id"]
    insert = conflict_insert(session, Send)
    for chunk in chunks(rows):
        session.execute(insert.on_conflict_do_nothing(index_elements=keys), chunk)
    found: dict[tuple[str, int], int] = {}
    for ids in chunks(sorted({p.source_id for p in sends})):
        found.update(
            ((source_id, lead_id), send_id)
            for send_id, source_id, lead_id in session.execute(
                select(Send.id, Send.source_id, Send.lead_id).where(
                    Send.workspace_id == workspace_id,
                    Send.source_kind == source_kind,
                    Send.source_id.in_(ids),
                )
            ).tuples()
            if lead_id is not None
        )
    return found
