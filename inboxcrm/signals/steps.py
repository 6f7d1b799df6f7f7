"""The signals' part of every sync batch, after capture: what the new mail says about the
leads it came from, stored as Activities for scoring to read.

- reply: a lead's person message on a thread the team wrote on before it (or answering,
  by In-Reply-To/References, a message of the team's), with its latency; `last_replied_at`;
- inquiry: a lead's first message, to a lead inbox (never a reply);
- auto_reply: an out-of-office from a lead, with the return date it states;
- bounce: a delivery report about a lead's address (its failed recipient, or the one lead
  the bounced message of ours was to), typed hard or soft; a hard bounce, or three soft
  ones in a row, marks the address bouncing (`LeadEmail.bouncing_at`); mail from the
  address starts the soft count again;
- meeting: a lead's calendar accepting an invitation;
- unsubscribe: a lead asking, in their own words, to hear no more.

Set-based: a handful of queries per batch whatever its size. Idempotent: an activity is
one per lead, kind and message (however many mailboxes hold a copy), so a replayed batch
adds nothing. Flushes, never commits; a message it cannot read gives no signal, never a
failed batch.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Workspace
from inboxcrm.db import chunks
from inboxcrm.events import EventType, emit_many
from inboxcrm.leads.capture.bulk import core_table, update_by_id
from inboxcrm.leads.capture.insiders import Insiders
from inboxcrm.leads.capture.links import existing_leads
from inboxcrm.leads.capture.messages import BATCH_MAIL, Mail, read_mail
from inboxcrm.leads.models import Activity, ActivityKind, Lead, LeadEmail
from inboxcrm.leads.serialize import lead_refs
from inboxcrm.mail.models import Direction, Message, MessageKind
from inboxcrm.mail.parse import ParsedMessage
from inboxcrm.mail.participants import parse_addresses
from inboxcrm.mail.steps import Batch
from inboxcrm.signals.bounces import RecipientBounce
from inboxcrm.signals.classify import Signals, read_signals
from inboxcrm.signals.replies import detect_reply, is_inquiry

log = logging.getLogger(__name__)

SIGNAL_KINDS = (
    ActivityKind.reply,
    ActivityKind.inquiry,
    ActivityKind.auto_reply,
    ActivityKind.bounce,
    ActivityKind.meeting,
    ActivityKind.unsubscribe,
)
SOFT_IN_A_ROW = 3  # soft bounces in a row that mark an address bouncing, as a hard one does
COPY_SKEW = dt.timedelta(days=1)  # each mailbox stamps its copy of a message with its own time


@dataclass
class _Found:
    """What one batch detected: activities to add, per (lead, kind, message copy)."""

    activities: dict[tuple[int, ActivityKind, str], dict[str, Any]] = field(default_factory=dict)
    # per address, in time order: ("hard"|"soft"|"mail", when, reason)
    address_events: dict[str, list[tuple[dt.datetime, str, str]]] = field(default_factory=dict)

    def add(self, lead: int, kind: ActivityKind, mail: Mail, detail: dict[str, Any]) -> None:
        self.activities.setdefault(
            (lead, kind, mail.copy_key),
            {"lead_id": lead, "kind": kind, "occurred_at": mail.sent_at,
             "message_id": mail.id, "detail": detail},
        )  # fmt: skip


def detect_signals(batch: Batch) -> None:
    if not batch.messages:
        return
    session = batch.session
    workspace = session.get_one(Workspace, batch.mailbox.workspace_id)
    insiders = Insiders.load(session, workspace)
    parsed_of = {m.id: m.parsed for m in batch.messages}
    inboxes = frozenset(a.strip().lower() for a in workspace.lead_inboxes or ())
    mails = batch.reads.get(BATCH_MAIL)  # the same read, made by capture
    if mails is None:
        threads = list({m.thread_id for m in batch.messages})
        mails = read_mail(session, insiders, threads, set(parsed_of))
    new = [m for m in mails if m.new]
    # Read now: the bounces (whom they are about). The rest once their sender is a lead.
    signals = {
        m.id: _read(parsed_of.get(m.id), m, batch.now, inboxes)
        for m in new
        if m.kind is MessageKind.bounce
    }

    # Whom the new mail is about: its senders, and the addresses its bounces name.
    addresses: set[str] = set()
    for m in new:
        if m.kind is MessageKind.bounce:
            addresses.update(b.recipient for b in _bounced(signals[m.id]) if b.recipient)
        elif not m.from_insider and m.sender is not None:
            addresses.add(m.sender.email)
    originals = _originals(session, workspace.id, new, parsed_of, insiders)
    addresses.update(a for o in originals.values() for a in o[1])
    lead_of = existing_leads(session, workspace.id, addresses)
    if not lead_of:
        return
    for m in new:
        if m.id not in signals:
            from_lead = not m.from_insider and m.sender is not None and m.sender.email in lead_of
            read = from_lead and m.kind in (MessageKind.person, MessageKind.auto_reply)
            signals[m.id] = (
                _read(parsed_of.get(m.id), m, batch.now, inboxes) if read else (Signals(m.kind))
            )
    firsts = _first_inbound(session, set(lead_of.values()))
    found = _Found()
    by_thread: dict[int, list[Mail]] = {}
    for m in mails:
        by_thread.setdefault(m.thread_id, []).append(m)
    for m in new:
        try:
            _detect(m, signals[m.id], parsed_of.get(m.id), by_thread[m.thread_id], lead_of,
                    firsts, originals, inboxes, found)  # fmt: skip
        except Exception:  # one unreadable message gives no signal; the batch goes on
            log.exception("signals: message %s skipped", m.id)
    added = _store(session, workspace.id, found)
    _contact_times(session, added, batch.now)
    _emit(session, workspace.id, added, batch.now)
    _mark_bouncing(session, workspace.id, found, added)
    session.flush()


def _read(
    parsed: ParsedMessage | None, m: Mail, now: dt.datetime, inboxes: Iterable[str]
) -> Signals:
    if parsed is None:
        return Signals(m.kind)
    try:
        return read_signals(parsed, now, m.kind, inboxes)
    except Exception:  # pure code on hostile input: no signal rather than a failed batch
        log.exception("signals: message %s unreadable", m.id)
        return Signals(m.kind)


def _bounced(signals: Signals) -> tuple[RecipientBounce, ...]:
    return signals.bounce.recipients if signals.bounce is not None else ()


def _originals(
    session: Session,
    workspace_id: int,
    new: list[Mail],
    parsed_of: dict[int, ParsedMessage | None],
    insiders: Insiders,
) -> dict[str, tuple[int, list[str], dt.datetime, bool]]:
    """The stored messages the new mail answers or reports on, by Message-ID: (id, the
    people outside the team it was to, when, sent by the team)."""
    wanted: set[str] = set()
    for m in new:
        parsed = parsed_of.get(m.id)
        if parsed is None:
            continue
        if m.kind is MessageKind.bounce and parsed.original_message_id:
            wanted.add(parsed.original_message_id)
        elif m.kind is MessageKind.person and not m.from_insider:
            wanted.update(i for i in (parsed.in_reply_to, *parsed.references) if i)
    found: dict[str, tuple[int, list[str], dt.datetime, bool]] = {}
    for chunk in chunks(wanted):
        rows = session.execute(
            select(Message.id, Message.rfc_message_id, Message.from_addr, Message.to_addrs,
                   Message.cc_addrs, Message.sent_at, Message.direction, Message.kind)
            .where(Message.workspace_id == workspace_id, Message.rfc_message_id.in_(chunk))
            .order_by(Message.id)
        )  # fmt: skip
        for row in rows:
            sender = parse_addresses(row.from_addr)
            ours = (
                insiders.is_insider(sender[0].email)
                if sender
                else row.direction is Direction.outbound
            )
            if row.kind is not MessageKind.person or row.rfc_message_id in found:
                continue
            people = [
                a.email
                for a in parse_addresses(row.to_addrs) + parse_addresses(row.cc_addrs)
                if not insiders.is_insider(a.email)
            ]
            found[row.rfc_message_id] = (row.id, list(dict.fromkeys(people)), row.sent_at, ours)
    return found


def _first_inbound(session: Session, leads: set[int]) -> dict[int, dt.datetime | None]:
    firsts: dict[int, dt.datetime | None] = {}
    for chunk in chunks(leads):
        rows = session.execute(select(Lead.id, Lead.first_inbound_at).where(Lead.id.in_(chunk)))
        firsts.update(rows.tuples().all())
    return firsts


def _detect(
    m: Mail,
    signals: Signals,
    parsed: ParsedMessage | None,
    thread: list[Mail],
    lead_of: dict[str, int],
    firsts: dict[int, dt.datetime | None],
    originals: dict[str, tuple[int, list[str], dt.datetime, bool]],
    inboxes: frozenset[str],
    found: _Found,
) -> None:
    if m.kind is MessageKind.bounce:
        _bounce(m, signals, parsed, lead_of, originals, found)
        return
    if m.from_insider or m.sender is None or m.sender.email not in lead_of:
        return
    lead = lead_of[m.sender.email]
    if m.kind is MessageKind.auto_reply:
        auto = signals.auto_reply
        when = auto.return_date.isoformat() if auto and auto.return_date else None
        found.add(lead, ActivityKind.auto_reply, m, {"return_date": when})
        return
    if m.kind is not MessageKind.person:
        return
    found.address_events.setdefault(m.sender.email, []).append((m.sent_at, "mail", ""))
    inbox = next((r.email for r in m.recipients if r.email in inboxes), None)
    first = firsts.get(lead)
    if is_inquiry(inbox is not None, first is None or m.sent_at <= first):
        found.add(lead, ActivityKind.inquiry, m, {"inbox": inbox})
    else:
        answered = [t.sent_at for t in thread if t.writes_out()]
        refs = [i for i in ((parsed.in_reply_to, *parsed.references) if parsed else ()) if i]
        answered += [originals[i][2] for i in refs if i in originals and originals[i][3]]
        reply = detect_reply(m.sent_at, answered)
        if reply is not None:
            found.add(lead, ActivityKind.reply, m, {
                "latency_seconds": int(reply.latency.total_seconds()),
                "answered_at": reply.answered_at.isoformat(),
            })  # fmt: skip
    meeting = signals.meeting
    if meeting is not None and (meeting.attendee in (None, m.sender.email)):
        found.add(lead, ActivityKind.meeting, m, meeting.as_json())
    if signals.unsubscribe_request:
        found.add(lead, ActivityKind.unsubscribe, m, {"source": "reply"})


def _bounce(
    m: Mail,
    signals: Signals,
    parsed: ParsedMessage | None,
    lead_of: dict[str, int],
    originals: dict[str, tuple[int, list[str], dt.datetime, bool]],
    found: _Found,
) -> None:
    bounced = _bounced(signals)
    original_id = parsed.original_message_id if parsed else None
    original = originals.get(original_id) if original_id else None
    matched = [b for b in bounced if b.recipient in lead_of]
    if not matched and bounced and original is not None:
        # The report names nobody we know: the one lead our bounced message was to.
        leads = [a for a in original[1] if a in lead_of]
        if len(leads) == 1:
            first = bounced[0]
            matched = [RecipientBounce(leads[0], first.type, first.reason, first.status,
                                       first.diagnostic)]  # fmt: skip
    for b in matched:
        found.add(lead_of[b.recipient], ActivityKind.bounce, m, {
            "type": b.type, "reason": b.reason, "status": b.status or None,
            "recipient": b.recipient, "diagnostic": b.diagnostic,
            "original_message_id": original_id,
            "original_id": original[0] if original else None,
        })  # fmt: skip
        found.address_events.setdefault(b.recipient, []).append((m.sent_at, b.type, b.reason))


def _store(session: Session, workspace_id: int, found: _Found) -> list[dict[str, Any]]:
    """Insert the activities not stored before (by any mailbox's copy); returns them."""
    if not found.activities:
        return []
    leads = {lead for lead, _, _ in found.activities}
    times = [a["occurred_at"] for a in found.activities.values()]
    done: set[tuple[int, ActivityKind, str]] = set()
    for chunk in chunks(leads):
        rows = session.execute(
            select(Activity.lead_id, Activity.kind, Activity.message_id, Message.rfc_message_id)
            .join(Message, Message.id == Activity.message_id)
            .where(
                Activity.lead_id.in_(chunk),
                Activity.kind.in_(SIGNAL_KINDS),
                Activity.occurred_at.between(min(times) - COPY_SKEW, max(times) + COPY_SKEW),
            )
        )
        done.update((lead, kind, rfc or f"#{mid}") for lead, kind, mid, rfc in rows.tuples())
    adding = [
        {"workspace_id": workspace_id, **row}
        for key, row in found.activities.items()
        if key not in done
    ]
    if adding:
        session.execute(insert(core_table(Activity)), adding)
    return adding


def _emit(
    session: Session, workspace_id: int, added: list[dict[str, Any]], now: dt.datetime
) -> None:
    """A `reply.received` event per reply stored, an `email.bounced` per bounce (none on a
    replay: nothing is added)."""
    replies = [row for row in added if row["kind"] is ActivityKind.reply]
    bounces = [row for row in added if row["kind"] is ActivityKind.bounce]
    if not replies and not bounces:
        return
    who = lead_refs(session, [row["lead_id"] for row in replies + bounces])
    emit_many(session, workspace_id, EventType.reply_received, now, [
        (row["lead_id"], {
            "lead": who.get(row["lead_id"], {"id": row["lead_id"]}),
            "occurred_at": row["occurred_at"].isoformat(),
            "message_id": row["message_id"],
            "latency_seconds": row["detail"].get("latency_seconds"),
        })
        for row in replies
    ])  # fmt: skip
    emit_many(session, workspace_id, EventType.email_bounced, now, [
        (row["lead_id"], {
            "lead": who.get(row["lead_id"], {"id": row["lead_id"]}),
            "address": row["detail"].get("recipient"),
            "type": row["detail"].get("type"),  # hard or soft
            "reason": row["detail"].get("reason"),
            "status": row["detail"].get("status"),
            "occurred_at": row["occurred_at"].isoformat(),
            "message_id": row["message_id"],
        })
        for row in bounces
    ])  # fmt: skip


def _contact_times(session: Session, added: list[dict[str, Any]], now: dt.datetime) -> None:
    """`Lead.last_replied_at`: the latest reply, never moved back."""
    latest: dict[int, dt.datetime] = {}
    for row in added:
        if row["kind"] is ActivityKind.reply:
            lead, at = row["lead_id"], row["occurred_at"]
            latest[lead] = max(at, latest.get(lead, at))
    if not latest:
        return
    rows: list[dict[str, Any]] = []
    for chunk in chunks(latest):
        current = session.execute(
            select(Lead.id, Lead.last_replied_at).where(Lead.id.in_(chunk))
        ).tuples()
        for lead, before in current:
            if before is None or latest[lead] > before:
                rows.append({"row": lead, "replied": latest[lead], "now": now})
    if rows:
        update_by_id(session, Lead, rows, {"last_replied_at": "replied", "updated_at": "now"})


def _mark_bouncing(
    session: Session, workspace_id: int, found: _Found, added: list[dict[str, Any]]
) -> None:
    """A hard bounce marks its address bouncing; so do SOFT_IN_A_ROW soft ones with no mail
    from the address between them. Only bounces just added count (a replay adds none)."""
    new_bounces = {
        (row["detail"]["recipient"], row["occurred_at"])
        for row in added
        if row["kind"] is ActivityKind.bounce
    }
    events = {
        address: sorted(e for e in happened if e[1] == "mail" or (address, e[0]) in new_bounces)
        for address, happened in found.address_events.items()
    }
    wrote = [a for a, e in events.items() if all(kind == "mail" for _, kind, _ in e)]
    for chunk in chunks(wrote):  # mail from an address: its soft bounces start again
        session.execute(
            update(LeadEmail)
            .where(LeadEmail.workspace_id == workspace_id, LeadEmail.email.in_(chunk),
                   LeadEmail.soft_bounces > 0)
            .values(soft_bounces=0),
            execution_options={"synchronize_session": False},
        )  # fmt: skip
    events = {a: e for a, e in events.items() if a not in set(wrote)}
    if not events:
        return
    for chunk in chunks(events):
        rows = session.scalars(
            select(LeadEmail).where(
                LeadEmail.workspace_id == workspace_id, LeadEmail.email.in_(chunk)
            )
        )
        for address in rows:
            for when, kind, reason in events[address.email]:
                if kind == "mail":
                    address.soft_bounces = 0
                    continue
                if kind == "soft":
                    address.soft_bounces = (address.soft_bounces or 0) + 1
                hard = kind == "hard" or address.soft_bounces >= SOFT_IN_A_ROW
                if hard and address.bouncing_at is None:
                    address.bouncing_at = when
                    address.bounce_reason = reason[:40]
