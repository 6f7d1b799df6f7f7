"""Gmail labels into stages: a stage label put on a thread moves its primary lead.

The sync calls this with the threads whose labels changed in a pass, folded per thread:
whatever happened to a thread's labels in between, only where they ended counts, so a
label removed and re-added ten times makes one change at most. Which stage a thread says:
- no stage label: nothing (removing the only stage label changes nothing);
- one: that stage;
- several: the one added last in history order (or, at a full sync, the one on the newest
  message), and the relabel outbox removes the others from Gmail.
A thread's label is news only when it differs from `Thread.shown_label_id`, the label the
sync last saw or the relabel last put there; so our own relabel coming back through
history, or a label seen again, moves nobody. A lead moves at most once per pass (the
latest of its threads' news wins), recorded as a StageChange by "label".
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import LeadPolicy, Mailbox
from inboxcrm.db import EPOCH, chunks
from inboxcrm.labels.mapping import stage_of_label
from inboxcrm.labels.models import StageLabel
from inboxcrm.leads.capture.batch import capture_threads
from inboxcrm.leads.models import Lead
from inboxcrm.leads.moves import move_lead
from inboxcrm.mail.models import Message, Thread
from inboxcrm.mail.store import queue_relabel
from inboxcrm.stages.models import ChangeSource, StageChange
from inboxcrm.tenancy import Scope

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _News:
    """A thread that now says a stage it did not say before."""

    thread: Thread
    label: StageLabel
    rank: tuple[int, dt.datetime, int]  # later wins: history order, newest mail, thread id


def labelled_threads(session: Session, mailbox_id: int) -> list[str]:
    """Gmail ids of the mailbox's threads that carry one of its stage labels (a full sync)."""
    label_ids = list(stage_of_label(session, mailbox_id))
    if not label_ids:
        return []
    text = cast(Message.label_ids, Text)
    query = (
        select(Thread.gmail_id)
        .join(Message, Message.thread_id == Thread.id)
        .where(Message.mailbox_id == mailbox_id, or_(*[text.contains(f'"{i}"') for i in label_ids]))
        .distinct()
    )
    return list(session.scalars(query))


def _labels_of(
    session: Session, thread_ids: list[int]
) -> dict[int, list[tuple[dt.datetime, list[str]]]]:
    found: dict[int, list[tuple[dt.datetime, list[str]]]] = {}
    for chunk in chunks(thread_ids):
        rows = session.execute(
            select(Message.thread_id, Message.sent_at, Message.label_ids).where(
                Message.thread_id.in_(chunk)
            )
        )
        for thread_id, sent_at, labels in rows.tuples():
            found.setdefault(thread_id, []).append((sent_at, list(labels or [])))
    return found


def _news(
    session: Session,
    mailbox: Mailbox,
    thread_gmail_ids: Iterable[str],
    added: dict[str, list[str]],
    now: dt.datetime,
) -> list[_News]:
    """Fold each thread's labels to the stage it says; keep the threads where that is new."""
    mapping = stage_of_label(session, mailbox.id)
    if not mapping:
        return []
    threads: list[Thread] = []
    for chunk in chunks(dict.fromkeys(thread_gmail_ids)):
        threads += session.scalars(
            select(Thread).where(Thread.mailbox_id == mailbox.id, Thread.gmail_id.in_(chunk))
        )
    labels = _labels_of(session, [t.id for t in threads])
    news: list[_News] = []
    for thread in threads:
        newest: dict[str, dt.datetime] = {}  # stage label -> newest message carrying it
        for sent_at, ids in labels.get(thread.id, []):
            for label_id in ids:
                if label_id in mapping and newest.get(label_id, EPOCH) <= sent_at:
                    newest[label_id] = sent_at
        if not newest:
            thread.shown_label_id = None  # a label put back later is news again
            continue
        order = added.get(thread.gmail_id, [])
        last_added = {label_id: i for i, label_id in enumerate(order)}

        chosen = max(
            newest,
            key=lambda i: (last_added.get(i, -1), newest[i], mapping[i].stage.position),
        )
        if len(newest) > 1:
            thread.relabel_at = now  # the others go: the outbox relabels from the lead's stage
        if chosen == thread.shown_label_id:
            continue
        thread.shown_label_id = chosen
        order_rank = last_added.get(chosen, -1)
        news.append(
            _News(thread, mapping[chosen], (order_rank, thread.last_message_at or EPOCH, thread.id))
        )
    return news


def _detail(label: StageLabel, mailbox: Mailbox, now: dt.datetime, initial: bool) -> str:
    text = f"{label.name} in {mailbox.email}, seen {now:%Y-%m-%d %H:%M} UTC"
    return (text + ("; initial sync" if initial else ""))[:300]


def apply_stage_labels(
    session: Session,
    mailbox: Mailbox,
    thread_gmail_ids: Iterable[str],
    now: dt.datetime,
    *,
    added: dict[str, list[str]] | None = None,
    initial: bool = False,
) -> list[StageChange]:
    """Move the primary leads of these threads (Gmail ids) to the stages their labels say.

    `added` lists each thread's stage labels in the order history added them (the later
    wins); `initial` marks a full sync's adoption of labels already there. A labelled thread
    without a lead gets one whatever the lead policy: the label is the rep's signal.
    Flushes, never commits."""
    news = _news(session, mailbox, thread_gmail_ids, added or {}, now)
    if not news:
        session.flush()
        return []
    leaderless = [n.thread.id for n in news if n.thread.primary_lead_id is None]
    if leaderless:
        session.flush()
        capture_threads(session, mailbox.workspace_id, leaderless, now, policy=LeadPolicy.all_mail)
    latest: dict[int, _News] = {}
    for item in news:
        lead_id = item.thread.primary_lead_id
        if lead_id is None:
            log.info(
                "mailbox %s: thread %s is labelled but has no lead", mailbox.id, item.thread.id
            )
            continue
        if lead_id not in latest or latest[lead_id].rank < item.rank:
            latest[lead_id] = item
    scope = Scope(session, mailbox.workspace_id)
    changes: list[StageChange] = []
    for lead_id, item in latest.items():
        lead = scope.get(Lead, lead_id)
        detail = _detail(item.label, mailbox, now, initial)
        # A label found by a first sync was put there before it: when is unknown, so the
        # move is dated by the thread's newest mail (days in stage count from then, not
        # from the sync), but never before the lead's last move.
        at = _adopted_at(session, lead, item, now) if initial else now
        change = move_lead(
            scope, lead, item.label.stage, source=ChangeSource.label, now=at, detail=detail
        )
        if change is None:
            continue
        lead.updated_at = now
        changes.append(change)
        _relabel_disagreeing(session, lead, item.label.stage_id, now)
    session.flush()
    return changes


def _adopted_at(session: Session, lead: Lead, item: _News, now: dt.datetime) -> dt.datetime:
    newest = item.rank[1]
    if newest <= EPOCH:
        return now
    last_move = session.scalar(
        select(func.max(StageChange.changed_at)).where(StageChange.lead_id == lead.id)
    )
    return min(now, max(newest, last_move or EPOCH))


def _relabel_disagreeing(session: Session, lead: Lead, stage_id: int, now: dt.datetime) -> None:
    """The lead's other threads that carry another stage's label are relabelled, so its
    labels agree; threads without a stage label are left as the reps keep them."""
    rows = session.execute(
        select(Thread.id, Thread.mailbox_id, Thread.shown_label_id).where(
            Thread.primary_lead_id == lead.id, Thread.shown_label_id.is_not(None)
        )
    ).all()
    if not rows:
        return
    ours = set(
        session.execute(
            select(StageLabel.mailbox_id, StageLabel.gmail_id).where(
                StageLabel.stage_id == stage_id
            )
        ).tuples()
    )
    stale = [i for i, box, label in rows if (box, label) not in ours]
    if stale:
        queue_relabel(session, now, Thread.id.in_(stale))
