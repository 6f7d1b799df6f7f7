"""The relabel outbox: make Gmail show each queued thread's primary lead's stage.

`move_lead` queues a lead's threads (`Thread.relabel_at`) in the transaction that moves
it; this clock job claims due threads with a conditional update (a lease, so a crash
frees them), and per mailbox sends batched, quota-paced threads.modify calls: the stage's
label added, every other stage label removed. What to write is read when the job runs,
so a lead moved three times before it runs is relabelled once, to where it ended. A
thread is cleared only if nobody queued it again meanwhile; a throttled mailbox keeps its
threads queued for later, so nothing is lost. The labels written are recorded as the
thread's `shown_label_id`, so when the sync reads them back from history they are no news.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from inboxcrm import queue
from inboxcrm.accounts.connection import connect
from inboxcrm.accounts.models import Mailbox, MailboxStatus
from inboxcrm.db import Database, utcnow
from inboxcrm.gmail.calls import GmailCalls, GmailError, GmailUnavailable, GrantRevoked
from inboxcrm.labels.mapping import check_soon, ensure_labels, labels_due
from inboxcrm.labels.models import StageLabel
from inboxcrm.leads.models import Lead
from inboxcrm.mail.models import Message, Thread
from inboxcrm.runtime import Runtime

log = logging.getLogger(__name__)
LEASE = dt.timedelta(minutes=5)
LATER = dt.timedelta(minutes=2)  # Gmail refused or throttled without saying when
LIMIT = 500  # threads claimed per tick


@dataclass
class Relabelled:
    modified: int = 0  # threads.modify calls that succeeded
    unchanged: int = 0  # threads whose labels were already right: no call
    deferred: int = 0  # left queued for a later tick (throttled, refused)
    errors: list[str] = field(default_factory=list)


def claim_relabels(
    database: Database, now: dt.datetime, limit: int = LIMIT
) -> dict[int, list[int]]:
    """Due threads of connected mailboxes, leased to this process: of two clocks ticking
    at once, exactly one gets each thread. Mailbox id -> thread ids."""
    with database.session() as session:
        ids = queue.claim(
            session,
            Thread.relabel_at,
            now,
            LEASE,
            Mailbox.status == MailboxStatus.connected,
            join=(Mailbox, Mailbox.id == Thread.mailbox_id),
            limit=limit,
        )
        claimed: dict[int, list[int]] = {}
        if ids:
            rows = session.execute(select(Thread.id, Thread.mailbox_id).where(Thread.id.in_(ids)))
            mailbox_of = dict(rows.tuples().all())
            for thread_id in ids:
                claimed.setdefault(mailbox_of[thread_id], []).append(thread_id)
    return claimed


@dataclass(frozen=True)
class _Plan:
    thread_id: int
    gmail_id: str
    wanted: str | None  # the stage's label id in this mailbox, None for a stage without one
    add: list[str]
    remove: list[str]


def _plan(session: Session, mailbox_id: int, thread_ids: list[int]) -> list[_Plan]:
    rows = session.scalars(select(StageLabel).where(StageLabel.mailbox_id == mailbox_id))
    label_of = {row.stage_id: row.gmail_id for row in rows}
    ours = set(label_of.values())
    threads = session.execute(
        select(Thread.id, Thread.gmail_id, Lead.stage_id)
        .join(Lead, Lead.id == Thread.primary_lead_id)
        .where(Thread.id.in_(thread_ids))
    ).all()
    present: dict[int, set[str]] = {}
    for thread_id, labels in session.execute(
        select(Message.thread_id, Message.label_ids).where(Message.thread_id.in_(thread_ids))
    ).tuples():
        present.setdefault(thread_id, set()).update(set(labels or ()) & ours)
    plans = []
    for thread_id, gmail_id, stage_id in threads:
        wanted = label_of.get(stage_id)
        carried = present.get(thread_id, set())
        stale = sorted(carried - {wanted})
        add = [wanted] if wanted is not None and wanted not in carried else []
        # All the other stage labels go, not only those we know of: a rep may have added
        # one we have not synced yet (removing an absent label is harmless).
        remove = sorted(ours - {wanted}) if add or stale else []
        plans.append(_Plan(thread_id, gmail_id, wanted, add, remove))
    return plans


def _release(session: Session, thread_id: int, lease: dt.datetime, due: dt.datetime | None) -> bool:
    """Clear (or postpone) the thread's relabel unless it was queued again meanwhile."""
    return queue.release(session, Thread.relabel_at, [thread_id], lease, due) == 1


def _record(session: Session, plan: _Plan, answer: dict[str, Any]) -> None:
    """What Gmail answered is what we store: the sync then finds nothing new."""
    labels = {str(m["id"]): list(m.get("labelIds", [])) for m in answer.get("messages", [])}
    for message in session.scalars(
        select(Message).where(Message.thread_id == plan.thread_id, Message.gmail_id.in_(labels))
    ):
        message.label_ids = labels[message.gmail_id]
    session.execute(
        update(Thread).where(Thread.id == plan.thread_id).values(shown_label_id=plan.wanted),
        execution_options={"synchronize_session": False},
    )


def relabel_mailbox(
    database: Database,
    mailbox_id: int,
    thread_ids: list[int],
    calls: GmailCalls,
    now: Callable[[], dt.datetime],
    claimed_at: dt.datetime,
) -> Relabelled:
    """Relabel threads of one mailbox this process claimed at `claimed_at`."""
    done = Relabelled()
    lease = claimed_at + LEASE
    try:
        with database.session() as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            if labels_due(mailbox, now()):
                ensure_labels(session, mailbox, calls, now())
        with database.session() as session:
            plans = _plan(session, mailbox_id, thread_ids)
        changes = {p.gmail_id: (p.add, p.remove) for p in plans if p.add or p.remove}
        answers = calls.modify_threads(changes) if changes else None
    except GmailError as exc:
        retry_at = exc.retry_at if isinstance(exc, GmailUnavailable) and exc.retry_at else None
        due = max(retry_at or now() + LATER, now())
        if isinstance(exc, GrantRevoked):
            due = now() + LEASE  # the sync marks the mailbox; relabels wait for a reconnect
        log.info("mailbox %s: relabel deferred to %s: %s", mailbox_id, due, exc)
        with database.session() as session:
            for thread_id in thread_ids:
                _release(session, thread_id, lease, due)
        done.deferred = len(thread_ids)
        done.errors.append(str(exc))
        return done
    with database.session() as session:
        planned = {p.thread_id: p for p in plans}
        for thread_id in thread_ids:
            plan = planned.get(thread_id)
            if plan is None:  # no primary lead any more: nothing to show
                _release(session, thread_id, lease, None)
                continue
            if not (plan.add or plan.remove):
                session.execute(
                    update(Thread).where(Thread.id == thread_id).values(shown_label_id=plan.wanted),
                    execution_options={"synchronize_session": False},
                )
                _release(session, thread_id, lease, None)
                done.unchanged += 1
                continue
            assert answers is not None
            if plan.gmail_id in answers.threads:
                _record(session, plan, answers.threads[plan.gmail_id])
                _release(session, thread_id, lease, None)
                done.modified += 1
                continue
            status, why = answers.failed.get(plan.gmail_id, (0, "no answer"))
            if status == 404:  # the thread is gone from Gmail; the sync removes it
                _release(session, thread_id, lease, None)
                continue
            if status == 400:  # a label deleted in Gmail since we looked: look again
                check_soon(session, Mailbox.id == mailbox_id)
            log.warning("mailbox %s: relabel of thread %s refused: %s %s",
                        mailbox_id, thread_id, status, why)  # fmt: skip
            _release(session, thread_id, lease, now() + LATER)
            done.deferred += 1
            done.errors.append(f"{status} {why}")
    return done


def relabel_due(runtime: Runtime, now: dt.datetime) -> Relabelled:
    """The clock's tick: claim due threads and relabel them, a mailbox at a time."""
    total = Relabelled()
    for mailbox_id, thread_ids in claim_relabels(runtime.database, now).items():
        with runtime.database.session() as session:
            mailbox = session.get_one(Mailbox, mailbox_id)
            try:
                gmail = connect(runtime, mailbox)
            except Exception as exc:  # unreadable tokens: the sync reports it; try later
                log.warning("mailbox %s cannot relabel: %s", mailbox_id, exc)
                for thread_id in thread_ids:
                    _release(session, thread_id, now + LEASE, now + LATER)
                continue
        result = relabel_mailbox(runtime.database, mailbox_id, thread_ids, gmail.calls, utcnow, now)
        gmail.keep_refreshed(runtime)
        total.modified += result.modified
        total.unchanged += result.unchanged
        total.deferred += result.deferred
        total.errors += result.errors
    return total
