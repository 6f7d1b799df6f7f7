"""The sync step that names the Send a reply answers: a lead's reply (signals' `reply`
activity) to one of our Sends gets `Activity.send_id`, so "replied to campaign X" is an
index probe, like "opened campaign X", rather than a join through messages and threads for
every lead a segment asks about.

Which Send: the one its In-Reply-To names (else the latest of its References that is ours),
as the lead's mail client said; failing those, on a Gmail thread of this mailbox, the latest
Send to that lead sent before the reply (a follow-up step's, when one went on the thread).
The activity is stored once per message however many mailboxes hold a copy, so it is found
by its message's RFC Message-ID as well as by the copy this batch stored. Set-based (a few
queries per batch, one when the batch holds no reply) and idempotent: only replies without
a Send yet are written. Flushes, never commits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import or_, select, update

from inboxcrm.db import chunks
from inboxcrm.leads.models import Activity, ActivityKind
from inboxcrm.mail.models import Message, Thread
from inboxcrm.mail.steps import Batch
from inboxcrm.outbox.models import Send, SendState


def replies_to_sends(batch: Batch) -> None:
    """The step as `setup.SYNC_STEPS` lists it, after the signals stored the replies."""
    if not batch.messages:
        return
    replies = _replies(batch)
    if not replies:
        return
    ours = _ours(batch, {name for reply in replies for name in reply.named})
    on_thread = _on_threads(batch, {reply.thread for reply in replies if reply.thread})
    answered = []
    for reply in replies:
        found = [ours[(n, reply.lead_id)] for n in reply.named if (n, reply.lead_id) in ours]
        sends = on_thread.get((reply.thread or "", reply.lead_id))
        if found:
            answered.append({"id": reply.activity_id, "send_id": found[0]})
        elif sends:
            answered.append({"id": reply.activity_id, "send_id": _latest_before(sends, reply.at)})
    if answered:  # an UPDATE by primary key, many rows at once
        batch.session.execute(update(Activity), answered)


@dataclass(frozen=True)
class _Reply:
    activity_id: int
    lead_id: int
    at: dt.datetime
    named: tuple[str, ...]  # the Message-IDs it answers, In-Reply-To first, then References
    thread: str | None  # its Gmail thread in this mailbox


def _replies(batch: Batch) -> list[_Reply]:
    """The batch's reply activities that name no Send yet (stored on any copy)."""
    session, mailbox = batch.session, batch.mailbox
    stored: dict[int, tuple[str | None, str]] = {}  # message -> (RFC id, Gmail thread)
    for ids in chunks([m.id for m in batch.messages]):
        rows = session.execute(
            select(Message.id, Message.rfc_message_id, Thread.gmail_id)
            .join(Thread, Thread.id == Message.thread_id)
            .where(Message.id.in_(ids), Thread.mailbox_id == mailbox.id)
        ).tuples()
        stored.update((mid, (rfc, thread)) for mid, rfc, thread in rows)
    thread_of_rfc = {rfc: thread for rfc, thread in stored.values() if rfc}
    out: list[_Reply] = []
    for part in chunks(list(stored)):
        rfcs = [r for r in (stored[mid][0] for mid in part) if r]
        found = session.execute(
            select(Activity.id, Activity.lead_id, Activity.occurred_at, Activity.message_id,
                   Message.rfc_message_id, Message.in_reply_to, Message.references)
            .join(Message, Message.id == Activity.message_id)
            .where(Activity.workspace_id == mailbox.workspace_id,
                   Activity.kind == ActivityKind.reply, Activity.send_id.is_(None),
                   or_(Activity.message_id.in_(part), Message.rfc_message_id.in_(rfcs)))
        ).tuples()  # fmt: skip
        for activity_id, lead_id, at, mid, rfc, parent, refs in found:
            named = dict.fromkeys(p for p in (parent, *reversed(refs or [])) if p)
            thread = stored[mid][1] if mid in stored else thread_of_rfc.get(rfc or "")
            out.append(_Reply(activity_id, lead_id, at, tuple(named), thread))
    return out


def _ours(batch: Batch, names: set[str]) -> dict[tuple[str, int], int]:
    """(Message-ID, lead) -> the Send that carried it."""
    out: dict[tuple[str, int], int] = {}
    for ids in chunks(sorted(names)):
        rows = batch.session.execute(
            select(Send.id, Send.message_id, Send.lead_id).where(
                Send.workspace_id == batch.mailbox.workspace_id, Send.message_id.in_(ids)
            )
        ).tuples()
        for send_id, message_id, lead_id in rows:
            if message_id is not None and lead_id is not None:
                out[(message_id, lead_id)] = send_id
    return out


def _on_threads(
    batch: Batch, threads: set[str]
) -> dict[tuple[str, int], list[tuple[dt.datetime, int]]]:
    """(Gmail thread, lead) -> the Sends sent on it from this mailbox, with their times."""
    out: dict[tuple[str, int], list[tuple[dt.datetime, int]]] = defaultdict(list)
    for ids in chunks(sorted(threads)):
        rows = batch.session.execute(
            select(Send.id, Send.lead_id, Send.gmail_thread_id, Send.sent_at).where(
                Send.mailbox_id == batch.mailbox.id,
                Send.gmail_thread_id.in_(ids),
                Send.state == SendState.sent,
            )
        ).tuples()
        for send_id, lead_id, thread, sent_at in rows:
            if lead_id is not None and thread is not None and sent_at is not None:
                out[(thread, lead_id)].append((sent_at, send_id))
    return out


def _latest_before(sends: list[tuple[dt.datetime, int]], at: dt.datetime) -> int:
    """The latest Send before the reply; the first one when the reply's clock is behind
    them all."""
    ordered = sorted(sends)
    before = [send_id for sent_at, send_id in ordered if sent_at <= at]
    return before[-1] if before else ordered[0][1]
