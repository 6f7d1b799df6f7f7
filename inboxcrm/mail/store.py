"""Synced mail into rows: idempotent, so a message fetched twice is stored once.

One mailbox at a time, a batch at a time: existing rows are looked up in one query per
batch, which keeps a 50-message batch at a handful of statements.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select, update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Workspace
from inboxcrm.db import EPOCH, chunks, insert_rows, update_by_id
from inboxcrm.mail.kind import message_kind
from inboxcrm.mail.models import Direction, Message, MessageKind, Thread
from inboxcrm.mail.parse import Attachment, ParsedMessage
from inboxcrm.mail.participants import Address


@dataclass(frozen=True, slots=True)
class Added:
    """A message row just inserted, with what it was parsed from: what the sync steps
    need to find it, its thread and its facts."""

    id: int
    thread_id: int
    parsed: ParsedMessage | None = None


@dataclass
class Stored:
    added: int = 0
    updated: int = 0
    messages: list[Added] = field(default_factory=list)  # the rows added, for capture


_SPECIALS = re.compile(r'[()<>\[\]:;@\\,."]')


def _address(address: Address | None) -> str:
    if address is None:
        return ""
    if not address.name:
        return address.email
    name = address.name
    if _SPECIALS.search(name):  # "Smith, Ann" must read back as one name, not two entries
        name = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{name} <{address.email}>"


_ATTACHMENT_FIELDS = tuple(f.name for f in fields(Attachment))


def _attachment(attachment: Attachment) -> dict[str, Any]:
    # What dataclasses.asdict gives for these flat fields, at a tenth of its cost.
    return {name: getattr(attachment, name) for name in _ATTACHMENT_FIELDS}


def _addresses(addresses: Iterable[Address]) -> str:
    return ", ".join(_address(a) for a in addresses)


def direction(mailbox: Mailbox, parsed: ParsedMessage) -> Direction:
    """Sent by this mailbox's owner (or sitting in Sent): outbound; anything else: inbound."""
    mine = parsed.from_ is not None and parsed.from_.email == mailbox.email
    return Direction.outbound if mine or "SENT" in parsed.label_ids else Direction.inbound


@dataclass(slots=True)
class _Thread:
    """A thread of the batch as the store sees it: its row id (None for one not stored
    yet), and its newest mail, kept up to date as the batch goes through."""

    id: int | None
    subject: str
    last_message_at: dt.datetime | None
    snippet: str
    moved: bool = False  # its newest mail changed


def _threads(session: Session, mailbox: Mailbox, gmail_ids: set[str]) -> dict[str, _Thread]:
    rows = session.execute(
        select(Thread.gmail_id, Thread.id, Thread.last_message_at).where(
            Thread.mailbox_id == mailbox.id, Thread.gmail_id.in_(gmail_ids)
        )
    )
    return {g: _Thread(i, "", at, "") for g, i, at in rows.tuples()}


def _write_threads(session: Session, mailbox: Mailbox, threads: dict[str, _Thread]) -> None:
    """The batch's new threads in one INSERT (ids read back by the unique key: SQLite runs
    an ordered INSERT ... RETURNING one row at a time), and the known ones whose newest
    mail changed in one UPDATE."""
    moved = [
        {"row": t.id, "at": t.last_message_at, "snippet": t.snippet}
        for t in threads.values()
        if t.moved and t.id is not None
    ]
    new = {g: t for g, t in threads.items() if t.id is None}
    insert_rows(
        session,
        Thread,
        [
            {"workspace_id": mailbox.workspace_id, "mailbox_id": mailbox.id, "gmail_id": g,
             "subject": t.subject, "snippet": t.snippet, "last_message_at": t.last_message_at}
            for g, t in new.items()
        ],
    )  # fmt: skip
    for chunk in chunks(new):
        made = session.execute(
            select(Thread.gmail_id, Thread.id).where(
                Thread.mailbox_id == mailbox.id, Thread.gmail_id.in_(chunk)
            )
        )
        for gmail_id, thread_id in made.tuples():
            new[gmail_id].id = thread_id
    update_by_id(session, Thread, moved, {"last_message_at": "at", "snippet": "snippet"})


def store_messages(session: Session, mailbox: Mailbox, batch: Sequence[ParsedMessage]) -> Stored:
    """Insert new messages and refresh known ones (labels move); flushes, never commits.
    Rows, not objects: a batch of hundreds of messages and threads is a handful of
    statements (building ORM objects cost more than the database did)."""
    result = Stored()
    batch = [p for p in batch if p.gmail_id and p.gmail_thread_id]
    adding: set[str] = set()
    session.flush()  # the statements below go to the driver, past the session
    inboxes = session.scalar(
        select(Workspace.lead_inboxes).where(Workspace.id == mailbox.workspace_id)
    )
    own_lists = list(inboxes or ())
    known = {
        m.gmail_id: m
        for m in session.scalars(
            select(Message).where(
                Message.mailbox_id == mailbox.id,
                Message.gmail_id.in_({p.gmail_id for p in batch}),
            )
        )
    }
    threads = _threads(session, mailbox, {p.gmail_thread_id for p in batch})
    rows: list[tuple[_Thread, dict[str, Any]]] = []
    for parsed in batch:
        sent_at = parsed.sent_at or EPOCH
        thread = threads.get(parsed.gmail_thread_id)
        if thread is None:
            thread = _Thread(None, parsed.subject[:998], None, "")
            threads[parsed.gmail_thread_id] = thread
        if thread.last_message_at is None or sent_at >= thread.last_message_at:
            thread.last_message_at = sent_at
            thread.snippet = parsed.snippet[:500]
            thread.moved = True
        message = known.get(parsed.gmail_id)
        if message is not None:
            message.label_ids = list(parsed.label_ids)
            message.history_id = parsed.history_id
            result.updated += 1
            continue
        if parsed.gmail_id in adding:
            continue  # listed twice in one batch
        adding.add(parsed.gmail_id)
        row = dict(
            workspace_id=mailbox.workspace_id,
            mailbox_id=mailbox.id,
            gmail_id=parsed.gmail_id,
            rfc_message_id=parsed.rfc_message_id,
            direction=direction(mailbox, parsed),
            from_addr=_address(parsed.from_)[:998],
            to_addrs=_addresses(parsed.to),
            cc_addrs=_addresses(parsed.cc),
            subject=parsed.subject[:998],
            snippet=parsed.snippet[:500],
            sent_at=sent_at,
            label_ids=list(parsed.label_ids),
            body_text=parsed.text_body or None,
            body_html=parsed.html_body or None,
            attachments=[_attachment(a) for a in parsed.attachments],
            size_estimate=parsed.size_estimate,
            history_id=parsed.history_id,
            **_facts(parsed, message_kind(parsed, own_lists)),
        )
        rows.append((thread, row))
    _write_threads(session, mailbox, threads)
    if rows:
        insert_rows(session, Message, [{**row, "thread_id": thread.id} for thread, row in rows])
        added = session.execute(
            select(Message.id, Message.thread_id, Message.gmail_id).where(
                Message.mailbox_id == mailbox.id, Message.gmail_id.in_(adding)
            )
        )
        parsed_of = {p.gmail_id: p for p in batch}
        result.messages = [Added(i, t, parsed_of[g]) for i, t, g in added.tuples()]
        result.added = len(result.messages)
    return result


# A long thread's References can name hundreds of messages: the root and the nearest
# ancestors are the ones that place a reply (RFC 5322 3.6.4 trims the same way).
MAX_REFERENCES = 100


def _references(ids: Sequence[str]) -> list[str]:
    kept = list(ids) if len(ids) <= MAX_REFERENCES else [ids[0], *ids[1 - MAX_REFERENCES :]]
    return [i[:998] for i in kept]


def _facts(parsed: ParsedMessage, kind: MessageKind) -> dict[str, Any]:
    """What the message is and what it answers; for a bounce, who it did not reach and
    which message bounced."""
    bounce = kind is MessageKind.bounce
    original = parsed.original_message_id if bounce else None
    return {
        "kind": kind,
        "in_reply_to": parsed.in_reply_to[:998] if parsed.in_reply_to else None,
        "references": _references(parsed.references),
        "auto_submitted": parsed.auto_submitted[:998] if parsed.auto_submitted else None,
        "failed_recipients": list(parsed.failed_recipients) if bounce else [],
        "original_message_id": original[:998] if original else None,
    }


def set_labels(session: Session, mailbox: Mailbox, labels: dict[str, list[str]]) -> int:
    """Apply label changes from history (gmail id -> its labels now); unknown ids are skipped."""
    rows = session.scalars(
        select(Message).where(Message.mailbox_id == mailbox.id, Message.gmail_id.in_(labels))
    )
    changed = 0
    for message in rows:
        message.label_ids = labels[message.gmail_id]
        changed += 1
    return changed


def delete_messages(session: Session, mailbox: Mailbox, gmail_ids: Iterable[str]) -> int:
    """Messages deleted in Gmail go here too; a thread left empty goes with its last one."""
    ids = set(gmail_ids)
    if not ids:
        return 0
    thread_ids = set(
        session.scalars(
            select(Message.thread_id).where(
                Message.mailbox_id == mailbox.id, Message.gmail_id.in_(ids)
            )
        )
    )
    removed = cast(
        CursorResult[Any],
        session.execute(
            delete(Message).where(Message.mailbox_id == mailbox.id, Message.gmail_id.in_(ids))
        ),
    ).rowcount
    still_used = set(
        session.scalars(select(Message.thread_id).where(Message.thread_id.in_(thread_ids)))
    )
    if thread_ids - still_used:
        session.execute(delete(Thread).where(Thread.id.in_(thread_ids - still_used)))
    return removed


def queue_relabel(session: Session, now: dt.datetime, *where: Any) -> None:
    """Queue the threads matching `where` for the relabel job (`Thread.relabel_at`): the
    one way anything asks for a thread's stage label to be written to Gmail."""
    session.execute(
        update(Thread).where(*where).values(relabel_at=now),
        execution_options={"synchronize_session": False},
    )
