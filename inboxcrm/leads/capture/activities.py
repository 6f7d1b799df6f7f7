"""Activities from mail and the contact times they move: `message_in` from a lead and
`message_out` to each lead the team wrote to, once per lead per message however many
mailboxes hold a copy; then each lead's first inbound, first response and last contact."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.db import chunks
from inboxcrm.leads.capture.bulk import insert_rows, update_by_id
from inboxcrm.leads.capture.messages import Mail
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.mail.models import Message, MessageKind

# Each mailbox stamps its own copy of a message with its own time (sent vs received), so
# copies of one message are looked for within this much of each other.
COPY_SKEW = dt.timedelta(days=1)

Events = dict[int, list[tuple[ActivityKind, dt.datetime]]]  # lead id -> activities added


def add_activities(
    session: Session, workspace_id: int, mails: list[Mail], lead_of: dict[str, int]
) -> Events:
    """`message_in` from a lead, `message_out` to each lead the team wrote to: once per
    lead per message, however many mailboxes hold it. Returns what was added, per lead."""
    wanted: dict[tuple[int, str], tuple[ActivityKind, Mail]] = {}
    for m in mails:
        if m.kind is not MessageKind.person:  # an auto-reply is linked, not counted
            continue
        if m.from_insider:
            for address in m.external:
                if address.email in lead_of:
                    key = (lead_of[address.email], m.copy_key)
                    wanted.setdefault(key, (ActivityKind.message_out, m))
        elif m.sender is not None and m.sender.email in lead_of:
            key = (lead_of[m.sender.email], m.copy_key)
            wanted.setdefault(key, (ActivityKind.message_in, m))
    if not wanted:
        return {}
    leads = {lead for lead, _ in wanted}
    earliest = min(m.sent_at for _, m in wanted.values()) - COPY_SKEW
    latest = max(m.sent_at for _, m in wanted.values()) + COPY_SKEW
    done: set[tuple[int, str]] = set()
    for chunk in chunks(leads):
        rows = session.execute(
            select(Activity.lead_id, Activity.message_id, Message.rfc_message_id)
            .join(Message, Message.id == Activity.message_id)
            .where(
                Activity.lead_id.in_(chunk),
                Activity.occurred_at.between(earliest, latest),
                Activity.kind.in_((ActivityKind.message_in, ActivityKind.message_out)),
            )
        )
        done.update((lead, rfc or f"#{mid}") for lead, mid, rfc in rows.tuples())
    given: Events = {}
    adding: list[dict[str, Any]] = []
    for key, (kind, m) in wanted.items():
        if key in done:
            continue
        adding.append(
            {"workspace_id": workspace_id, "lead_id": key[0], "kind": kind,
             "occurred_at": m.sent_at, "message_id": m.id, "detail": {}}
        )  # fmt: skip
        given.setdefault(key[0], []).append((kind, m.sent_at))
    if adding:
        insert_rows(session, Activity, adding)
    return given


def update_contact_times(session: Session, events: Events, now: dt.datetime) -> None:
    """Keep first inbound, first response after it and last contact up to date from the
    activities just added. Only a lead whose first inbound moved is looked up again (its
    first response may be a message stored before)."""
    if not events:
        return
    current: dict[int, tuple[dt.datetime | None, dt.datetime | None, dt.datetime | None]] = {}
    for chunk in chunks(events):
        rows = session.execute(
            select(Lead.id, Lead.first_inbound_at, Lead.first_response_at,
                   Lead.last_contacted_at).where(Lead.id.in_(chunk))
        )  # fmt: skip
        current.update((i, (a, b, c)) for i, a, b, c in rows.tuples())
    changes: dict[int, dict[str, Any]] = {}
    moved: list[int] = []
    for lead_id, added in events.items():
        first_in, first_reply, last = current.get(lead_id, (None, None, None))
        ins = [t for kind, t in added if kind is ActivityKind.message_in]
        start = min([t for t in (first_in, *ins) if t is not None], default=None)
        if start is not None and start != first_in:
            moved.append(lead_id)
        elif start is not None:
            after = [t for kind, t in added if kind is ActivityKind.message_out and t > start]
            first_reply = min([t for t in (first_reply, *after) if t is not None], default=None)
        changes[lead_id] = {
            "row": lead_id,
            "first_in": start,
            "first_reply": first_reply,
            # Never earlier than it was: other kinds of contact may have set it.
            "last": max(t for t in (last, *(t for _, t in added)) if t is not None),
            "now": now,
        }
    for chunk in chunks(moved):
        for lead_id in chunk:
            changes[lead_id]["first_reply"] = None
        starts = {i: changes[i]["first_in"] for i in chunk}
        replies = session.execute(
            select(Activity.lead_id, Activity.occurred_at).where(
                Activity.lead_id.in_(chunk), Activity.kind == ActivityKind.message_out
            )
        )
        for lead_id, at in replies.tuples():
            best = changes[lead_id]["first_reply"]
            if at > starts[lead_id] and (best is None or at < best):
                changes[lead_id]["first_reply"] = at
    update_by_id(
        session,
        Lead,
        list(changes.values()),
        {
            "first_inbound_at": "first_in",
            "first_response_at": "first_reply",
            "last_contacted_at": "last",
            "updated_at": "now",
        },
    )
