"""The sync step that names the Send a reply answers: a lead's reply (signals' `reply`
activity) on a Gmail thread of this mailbox that one of our Sends to that lead started or
followed up gets `Activity.send_id`, the latest such Send sent before the reply. So "replied
to campaign X" is an index probe, like "opened campaign X", rather than a join through
messages and threads for every lead a segment asks about.

The activity is stored once per message however many mailboxes hold a copy, so it is found
by its message's RFC Message-ID as well as by the copy this batch stored. Set-based (a few
queries per batch, none past the first when the batch's threads carry no Send) and
idempotent: only replies without a Send yet are written. Flushes, never commits.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

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
    session, mailbox = batch.session, batch.mailbox
    stored: list[tuple[int, str | None, str]] = []
    for chunk in chunks([m.id for m in batch.messages]):
        stored += session.execute(
            select(Message.id, Message.rfc_message_id, Thread.gmail_id)
            .join(Thread, Thread.id == Message.thread_id)
            .where(Message.id.in_(chunk), Thread.mailbox_id == mailbox.id)
        ).tuples()
    sends: dict[tuple[str, int], list[tuple[dt.datetime, int]]] = defaultdict(list)
    for ids in chunks(sorted({thread for *_, thread in stored})):
        for send_id, lead_id, thread, sent_at in session.execute(
            select(Send.id, Send.lead_id, Send.gmail_thread_id, Send.sent_at).where(
                Send.mailbox_id == mailbox.id,
                Send.gmail_thread_id.in_(ids),
                Send.state == SendState.sent,
                Send.lead_id.is_not(None),
            )
        ).tuples():
            if lead_id is not None and thread is not None and sent_at is not None:
                sends[(thread, lead_id)].append((sent_at, send_id))
    if not sends:
        return
    threads = {thread for thread, _lead in sends}
    mine = [(mid, rfc, thread) for mid, rfc, thread in stored if thread in threads]
    by_message = {mid: thread for mid, _rfc, thread in mine}
    by_rfc = {rfc: thread for _mid, rfc, thread in mine if rfc}
    answered = []
    for part in chunks(mine):
        mids = [mid for mid, _rfc, _thread in part]
        rfcs = [rfc for _mid, rfc, _thread in part if rfc]
        for activity_id, lead_id, at, mid, rfc in session.execute(
            select(Activity.id, Activity.lead_id, Activity.occurred_at, Activity.message_id,
                   Message.rfc_message_id)
            .join(Message, Message.id == Activity.message_id)
            .where(Activity.workspace_id == mailbox.workspace_id,
                   Activity.kind == ActivityKind.reply, Activity.send_id.is_(None),
                   or_(Activity.message_id.in_(mids), Message.rfc_message_id.in_(rfcs)))
        ).tuples():  # fmt: skip
            thread = by_message.get(mid) if mid is not None else None
            thread = thread or (by_rfc.get(rfc) if rfc else None)
            found = sends.get((thread, lead_id), []) if thread else []
            if found:
                answered.append({"id": activity_id, "send_id": _answered(found, at)})
    if answered:  # an UPDATE by primary key, many rows at once
        session.execute(update(Activity), answered)

def _answered(sends: list[tuple[dt.datetime, int]], at: dt.datetime) -> int:
    """The latest Send before the reply (a follow-up step's, when one went on the thread);
    the first one when the reply's clock is behind them all."""
    ordered = sorted(sends)
    before = [send_id for sent_at, send_id in ordered if sent_at <= at]
    return before[-1] if before else ordered[0][1]
