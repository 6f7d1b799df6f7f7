"""Dispatch: due Sends go out through their mailbox's Gmail, each exactly once.

The mechanism is Gmail's draft two-phase (docs/architecture.md, "Sending exactly once"):

1. claim: the mailbox's send slot (one send at a time per mailbox, gaps between), then
   one due Send, each a lease through `queue.claim` (a rep's one-off first; when the cap
   left cannot take all that is due, the workspace's choice of sequences or campaigns
   before the other: `pacing.ranks`);
2. commit: checks at send time, the window, the composed MIME with its own Message-ID
   and token header, committed before Gmail is called;
3. drafts.create with that MIME; the draft id committed;
4. drafts.send of that draft id; Gmail's message and thread ids committed.

A lost answer at 3 leaves at worst a draft we do not know of: the next attempt looks for
it by Message-ID and token and adopts it; found nowhere, nothing was sent (sending needs
the draft id, committed first), so a new draft is certain to be the only one. A lost
answer at 4 is retried: Gmail deletes a draft it sends, so the retry cannot send twice;
it answers 404 and the mailbox is searched for the message (found: sent; not found: the
owner deleted the draft, failed, never resent). Every write after the claim is
conditional on still holding the lease, so a dispatcher that stalled past its lease
cannot overwrite the one that took over.
"""

from __future__ import annotations

import datetime as dt
import logging
import random as _random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, or_, select, update
from sqlalchemy.orm import Session

from inboxcrm import queue
from inboxcrm.accounts.connection import connect
from inboxcrm.accounts.models import Mailbox, MailboxStatus, Workspace
from inboxcrm.events import EventType, emit
from inboxcrm.gmail.calls import (
    DraftGone,
    GmailCalls,
    GmailUnavailable,
    GrantRevoked,
    Refused,
    RetryPolicy,
    SendOutcomeUnknown,
)
from inboxcrm.leads.models import Lead
from inboxcrm.leads.serialize import lead_refs
from inboxcrm.outbox import pacing, windows
from inboxcrm.outbox.checks import CHECKS, Check, Due
from inboxcrm.outbox.compose import ComposeError, Outgoing, compose, new_identity
from inboxcrm.outbox.marketing import Marked, Sender, is_marketing, mark
from inboxcrm.outbox.models import (
    ACTIVE,
    MailboxSending,
    Send,
    SendState,
    SkipReason,
    SourceKind,
)
from inboxcrm.outbox.reconcile import Sought, find_draft, find_sent
from inboxcrm.outbox.settings import outbox_settings
from inboxcrm.outbox.unsubscribe import Recipient
from inboxcrm.runtime import Runtime

log = logging.getLogger(__name__)
SEND_LEASE = dt.timedelta(minutes=5)  # a claimed Send; every write checks it still holds
SLOT_LEASE = dt.timedelta(minutes=5)  # a claimed mailbox slot
RETRY = dt.timedelta(minutes=1)  # after an answer was lost or Gmail was unavailable
RECONNECT = dt.timedelta(minutes=10)  # a mailbox that cannot connect, tried again then
SENDING_PAUSE = dt.timedelta(hours=1)  # Gmail's sending limit with no time said
# No retries inside a call: a failed send is retried through its queue, after the
# mailbox's gap, never in a tight loop into a sending limit.
SEND_POLICY = RetryPolicy(attempts=1, max_wait=0.0)
SKIPS_PER_SLOT = 50  # sends skipped or re-planned for one slot before it is let go


@dataclass
class Tally:
    sent: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    replanned: int = 0
    paused: int = 0
    mailboxes: int = 0

    def add(self, other: Tally) -> None:
        for name in vars(self):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class Dispatch:
    """One dispatcher's settings: its checks, its randomness, how it reaches Gmail."""

    runtime: Runtime
    checks: tuple[Check, ...] = CHECKS
    random: Callable[[], float] = _random.random
    tally: Tally = field(default_factory=Tally)

    def calls(self, mailbox: Mailbox) -> tuple[GmailCalls, Callable[[], None]]:
        connection = connect(self.runtime, mailbox, SEND_POLICY)
        return connection.calls, lambda: connection.keep_refreshed(self.runtime)


def _due_mailboxes(now: dt.datetime) -> Any:
    return (
        select(Send.mailbox_id)
        .where(Send.due_at <= now, Send.state.in_(ACTIVE))
        .distinct()
        .scalar_subquery()
    )


def dispatch_due(
    runtime: Runtime,
    now: dt.datetime,
    *,
    checks: tuple[Check, ...] = CHECKS,
    random: Callable[[], float] = _random.random,
    limit: int = 20,
) -> Tally:
    """One pass: claim the slots of mailboxes with sends due, send one from each (after
    skipping what must not go), and hand each slot back with its gap."""
    dispatch = Dispatch(runtime, checks, random)
    ready = or_(MailboxSending.next_slot_at.is_(None), MailboxSending.next_slot_at <= now)
    with runtime.database.session() as session:
        slots = queue.claim(
            session,
            MailboxSending.next_slot_at,
            now,
            SLOT_LEASE,
            MailboxSending.mailbox_id.in_(_due_mailboxes(now)),
            ready=ready,
            limit=limit,
            order_by=(MailboxSending.next_slot_at.nulls_first(), MailboxSending.id),
        )
    for slot_id in slots:
        dispatch.tally.mailboxes += 1
        try:
            _dispatch_mailbox(dispatch, slot_id, now)
        except Exception:  # one mailbox's trouble stops neither the tick nor the others
            log.exception("dispatch of slot %s failed", slot_id)
            with runtime.database.session() as session:
                queue.release(
                    session, MailboxSending.next_slot_at, [slot_id], now + SLOT_LEASE, now + RETRY
                )
    return dispatch.tally


def _counted(session: Session, mailbox_id: int, now: dt.datetime) -> tuple[int, dt.datetime | None]:
    """Sends of the mailbox over the rolling 24 hours (committed ones count: Gmail may have
    sent them), and the oldest of them."""
    count, oldest = session.execute(
        select(func.count(), func.min(Send.committed_at)).where(
            Send.mailbox_id == mailbox_id,
            Send.committed_at > now - pacing.DAY,
            Send.state.in_((SendState.committed, SendState.sent)),
        )
    ).one()
    return int(count), oldest


def next_slot(session: Session, now: dt.datetime) -> dt.datetime | None:
    """When the first mailbox with sends due now may send (None: no send is due)."""
    slots = list(
        session.scalars(
            select(MailboxSending.next_slot_at).where(
                MailboxSending.mailbox_id.in_(_due_mailboxes(now))
            )
        )
    )
    if not slots:
        return None
    return min(now if at is None else at for at in slots)


def cap_of(sending: MailboxSending, mailbox: Mailbox) -> int:
    return sending.daily_cap if sending.daily_cap is not None else pacing.default_cap(mailbox.email)


def _dispatch_mailbox(dispatch: Dispatch, slot_id: int, now: dt.datetime) -> None:
    database = dispatch.runtime.database
    slot_until = now + SLOT_LEASE

    def free(then: dt.datetime | None, **values: Any) -> None:
        with database.session() as session:
            if values:
                session.execute(
                    update(MailboxSending).where(MailboxSending.id == slot_id).values(**values)
                )
            queue.release(session, MailboxSending.next_slot_at, [slot_id], slot_until, then)

    with database.session() as session:
        sending = session.get_one(MailboxSending, slot_id)
        mailbox = session.get_one(Mailbox, sending.mailbox_id)
        assert mailbox.member is not None  # loaded now: the sender's name, used detached
        session.expunge_all()
        cap = cap_of(sending, mailbox)
        shortest = float(
            sending.gap_min_seconds if sending.gap_min_seconds is not None else pacing.MIN_GAP
        )
        longest = float(
            sending.gap_max_seconds if sending.gap_max_seconds is not None else pacing.MAX_GAP
        )
        counted, oldest = _counted(session, mailbox.id, now)
        first = outbox_settings(session, mailbox.workspace_id).cap_first
        short = _due_beyond(session, mailbox.id, now, cap - counted)
    order = _order(pacing.ranks(first, short))
    if mailbox.status is not MailboxStatus.connected:
        free(now + RECONNECT)
        return
    if counted >= cap:  # full: the slot opens when the oldest send leaves the 24 hours
        free((oldest or now) + pacing.DAY)
        return
    try:
        calls, keep_refreshed = dispatch.calls(mailbox)
    except Exception as exc:  # unreadable tokens and the like
        log.warning("mailbox %s cannot send: %s", mailbox.id, exc)
        free(now + RECONNECT)
        return
    then: dt.datetime | None = None
    extra: dict[str, Any] = {"paused_until": None, "pause_reason": None}
    for _ in range(SKIPS_PER_SLOT):
        outcome = _next_send(dispatch, calls, mailbox, now, order)
        if outcome is None:  # nothing more due
            break
        if outcome.called:  # Gmail sent (or may have): the gap before the next
            then = now + pacing.gap(cap, dispatch.random, shortest, max(shortest, longest))
        if outcome.pause is not None:
            then = outcome.pause
            extra = {"paused_until": outcome.pause, "pause_reason": outcome.why}
            dispatch.tally.paused += 1
        if outcome.called or outcome.pause is not None:
            break
    keep_refreshed()
    free(then, **extra)


@dataclass(frozen=True)
class Outcome:
    called: bool  # a drafts.send went to Gmail: the mailbox waits its gap
    pause: dt.datetime | None = None  # Gmail's sending limit: the mailbox waits till then
    why: str | None = None


_COMMITTED_FIRST = case((Send.state == SendState.committed, 0), else_=1)


def _due_beyond(session: Session, mailbox_id: int, now: dt.datetime, left: int) -> bool:
    """Whether more sends of the mailbox are due than the `left` of its cap can take
    (counting no further than one past it)."""
    if left <= 0:
        return True
    due = (
        select(Send.id)
        .where(Send.mailbox_id == mailbox_id, Send.due_at <= now, Send.state.in_(ACTIVE))
        .limit(left + 1)
        .subquery()
    )
    return int(session.scalar(select(func.count()).select_from(due)) or 0) > left


def _order(ranks: dict[SourceKind, int]) -> tuple[Any, ...]:
    """The claim's order: a Send left committed first (it may have gone: reconcile it),
    then by the kind's rank (`pacing.ranks`), then the oldest due."""
    rank = case(*((Send.source_kind == kind, n) for kind, n in ranks.items()), else_=len(ranks))
    return (_COMMITTED_FIRST, rank, Send.due_at, Send.id)


def _next_send(
    dispatch: Dispatch,
    calls: GmailCalls,
    mailbox: Mailbox,
    now: dt.datetime,
    order: tuple[Any, ...],
) -> Outcome | None:
    """Claim the mailbox's next due Send in `order` (one left committed first) and take it
    as far as it goes; None when none is due."""
    database = dispatch.runtime.database
    lease = now + SEND_LEASE
    with database.session() as session:
        ids = queue.claim(
            session,
            Send.due_at,
            now,
            SEND_LEASE,
            Send.mailbox_id == mailbox.id,
            Send.state.in_(ACTIVE),
            limit=1,
            order_by=order,
        )
        if ids:
            session.execute(
                update(Send)
                .where(Send.id == ids[0], Send.state == SendState.planned)
                .values(state=SendState.claimed)
            )
    if not ids:
        return None
    send_id = ids[0]
    resumed = _commit(dispatch, mailbox, send_id, now, lease)
    if resumed is None:
        return Outcome(False)  # skipped or re-planned: no Gmail call
    return _deliver(dispatch, calls, send_id, now, lease, resumed)


def _held(send_id: int, lease: dt.datetime) -> Any:
    return (Send.id == send_id) & (Send.due_at == lease)


def _set(session: Session, send_id: int, lease: dt.datetime, **values: Any) -> bool:
    result = session.execute(update(Send).where(_held(send_id, lease)).values(**values))
    return bool(getattr(result, "rowcount", 0))


def _commit(
    dispatch: Dispatch, mailbox: Mailbox, send_id: int, now: dt.datetime, lease: dt.datetime
) -> bool | None:
    """Checks, window and MIME; committed. True: the Send was committed already (a
    crash or a lost answer left it so: reconcile first); False: committed now; None:
    skipped or re-planned."""
    tally = dispatch.tally
    with dispatch.runtime.database.session() as session:
        send = session.get_one(Send, send_id)
        if send.state is SendState.committed:
            return True
        lead = session.get(Lead, send.lead_id) if send.lead_id is not None else None
        due = Due(session, send, lead, now)
        for check in dispatch.checks:
            if (reason := check(due)) is not None:
                _set(session, send_id, lease, state=SendState.skipped, reason=reason, due_at=None)
                tally.skipped += 1
                return None
        workspace = session.get_one(Workspace, send.workspace_id)
        tz = windows.zone(lead.timezone if lead else None, workspace.timezone)
        window = windows.Window.from_json(send.window) if send.window is not None else None
        stale = dt.timedelta(hours=send.stale_after_hours)
        plan = windows.plan(now, send.planned_at, window, tz, stale)
        if plan.stale:
            _set(
                session,
                send_id,
                lease,
                state=SendState.skipped,
                reason=SkipReason.window_passed,
                due_at=None,
            )
            tally.skipped += 1
            return None
        if not plan.go:
            _set(session, send_id, lease, state=SendState.planned, due_at=plan.at)
            tally.replanned += 1
            return None
        token, message_id = new_identity(mailbox.email)
        member_name = mailbox.member.name if mailbox.member is not None else ""
        text, html = send.body_text, send.body_html
        headers: tuple[tuple[str, str], ...] = ()
        if is_marketing(send.source_kind):
            marked = _marketing(dispatch, session, send, mailbox, now)
            text, html, headers = marked.text, marked.html, marked.headers
        try:
            mime = compose(
                Outgoing(
                    sender=mailbox.email,
                    sender_name=member_name,
                    to=send.to_email,
                    to_name=lead.name if lead else "",
                    subject=send.subject,
                    text=text,
                    html=html,
                    message_id=message_id,
                    token=token,
                    date=now,
                    in_reply_to=send.in_reply_to,
                    references=send.references,
                    headers=headers,
                )
            )
        except ComposeError as exc:
            _set(
                session,
                send_id,
                lease,
                state=SendState.skipped,
                reason=SkipReason.template_error,
                error=exc.message[:1000],
                due_at=None,
            )
            tally.skipped += 1
            return None
        committed = _set(
            session,
            send_id,
            lease,
            state=SendState.committed,
            message_id=message_id,
            token=token,
            mime=mime,
            committed_at=now,
            attempts=Send.attempts + 1,
        )
        return False if committed else None


def _marketing(
    dispatch: Dispatch, session: Session, send: Send, mailbox: Mailbox, now: dt.datetime
) -> Marked:
    """A campaign's or step's unsubscribe headers, footer and tracking, signed for this
    send with the app's secret and pointing at its base URL."""
    settings = outbox_settings(session, send.workspace_id)
    sender = Sender(
        base_url=dispatch.runtime.settings.base_url,
        secret=dispatch.runtime.settings.secret_key,
        postal_address=settings.postal_address,
        tracking=settings.tracking and send.tracking is not False,
    )
    recipient = Recipient(
        send.workspace_id, send.lead_id or 0, send.to_email, send.mailbox_id, str(send.id)
    )
    return mark(sender, recipient, mailbox.email, send.body_text, send.body_html, now)


def _deliver(
    dispatch: Dispatch,
    calls: GmailCalls,
    send_id: int,
    now: dt.datetime,
    lease: dt.datetime,
    resumed: bool,
) -> Outcome:
    """Phases 3 and 4 for a committed Send this dispatcher holds."""
    database = dispatch.runtime.database
    tally = dispatch.tally
    with database.session() as session:
        send = session.get_one(Send, send_id)
        if send.due_at != lease or send.mime is None or send.message_id is None:
            return Outcome(False)  # another dispatcher took over
        sought = Sought(send.message_id, send.token or "", send.to_email, send.committed_at or now)
        draft_id, mime, hint = send.draft_id, send.mime, send.gmail_thread_hint

    def later(error: str) -> Outcome:
        with database.session() as session:
            _set(session, send_id, lease, due_at=now + RETRY, error=error[:1000])
        tally.retried += 1
        return Outcome(True)

    def fail(error: str) -> Outcome:
        if draft_id is not None:  # a refused draft would only confuse its owner
            try:
                calls.delete_draft(draft_id)
            except Exception:
                log.info("draft %s of send %s left in Gmail", draft_id, send_id)
        with database.session() as session:
            _set(session, send_id, lease, state=SendState.failed, error=error[:1000], due_at=None)
        tally.failed += 1
        return Outcome(False)

    def unavailable(exc: GmailUnavailable) -> Outcome:
        if exc.kind == "rate_limited" and "sending" in str(exc).lower():
            until = exc.retry_at or now + SENDING_PAUSE
            with database.session() as session:
                _set(session, send_id, lease, due_at=until, error=str(exc)[:1000])
            return Outcome(False, pause=until, why=str(exc)[:300])
        return later(str(exc))

    try:
        if draft_id is None:
            draft_id = find_draft(calls, sought) if resumed else None
            if draft_id is None:
                try:
                    draft_id = str(calls.create_draft(mime, hint)["id"])
                except SendOutcomeUnknown as exc:  # a draft may exist: found next time
                    with database.session() as session:  # it counts as an attempt to find
                        _set(session, send_id, lease, due_at=now + RETRY, error=str(exc)[:1000])
                    tally.retried += 1
                    return Outcome(True)
            with database.session() as session:
                if not _set(session, send_id, lease, draft_id=draft_id):
                    calls.delete_draft(draft_id)  # lost the lease: the new holder decides
                    return Outcome(False)
        try:
            sent = calls.send_draft(draft_id)
        except DraftGone:
            found = find_sent(calls, sought)
            if found is None:
                return fail("its draft was deleted in Gmail before it was sent; not sent again")
            sent = {"id": found.gmail_id, "threadId": found.thread_id}
    except GmailUnavailable as exc:
        return unavailable(exc)
    except GrantRevoked as exc:
        return later(str(exc))
    except Refused as exc:  # a 4xx: it was not sent
        return fail(str(exc))
    with database.session() as session:
        marked = session.execute(
            update(Send)
            .where(Send.id == send_id, Send.state == SendState.committed)
            .values(
                state=SendState.sent,
                gmail_id=str(sent["id"]),
                gmail_thread_id=str(sent.get("threadId", "")),
                sent_at=now,
                due_at=None,
                error=None,
            )
        )
        if getattr(marked, "rowcount", 0) == 1:  # marked sent now, not by another before
            _emit_sent(session, send_id, now)
    tally.sent += 1
    _tidy(calls, sought, send_id)
    return Outcome(True)


def _emit_sent(session: Session, send_id: int, now: dt.datetime) -> None:
    """`email.sent`, in the transaction that marks the Send sent."""
    send = session.get_one(Send, send_id, populate_existing=True)
    mailbox = session.get_one(Mailbox, send.mailbox_id)
    emit(session, send.workspace_id, EventType.email_sent, now, {
        "send_id": send.id,
        "lead": lead_refs(session, [send.lead_id]).get(send.lead_id or 0),
        "mailbox": {"id": mailbox.id, "email": mailbox.email},
        "source": {"kind": send.source_kind.value, "id": send.source_id},
        "to": send.to_email,
        "subject": send.subject,
        "message_id": send.message_id,
        "gmail_id": send.gmail_id,
        "gmail_thread_id": send.gmail_thread_id,
        "sent_at": now.isoformat(),
    }, send.lead_id)  # fmt: skip


def _tidy(calls: GmailCalls, sought: Sought, send_id: int) -> None:
    """Delete drafts of this Send still in Gmail: on a dropped connection httplib2 sends a
    request once more by itself, so a drafts.create may have made two. Never sent (the
    one sent is gone), they would only wait in the rep's Drafts. Best effort."""
    try:
        for draft in calls.list_drafts(f"rfc822msgid:{sought.message_id.strip('<>')}"):
            calls.delete_draft(str(draft["id"]))
    except Exception:
        log.info("left drafts of send %s in Gmail", send_id)
