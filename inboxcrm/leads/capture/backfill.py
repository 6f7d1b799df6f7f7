"""Capture over mail already stored: matching leads to it (a lead added by hand, or one a
sync created after its earlier threads were stored), and capturing every thread again
after the rules changed, a step at a time behind a cursor on the workspace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Workspace
from inboxcrm.db import chunks
from inboxcrm.leads.capture.batch import Captured, capture_threads
from inboxcrm.leads.models import LeadEmail
from inboxcrm.mail.models import Message, Thread
from inboxcrm.mail.participants import parse_addresses

BATCH = 200  # threads captured together
RECAPTURE_STEP = 2000  # threads a step captures again, in one transaction


def _capture_in_batches(
    session: Session, workspace_id: int, thread_ids: list[int], now: dt.datetime, create: bool
) -> Captured:
    result = Captured()
    for chunk in chunks(thread_ids, BATCH):
        result.add(capture_threads(session, workspace_id, chunk, now, create=create))
    return result


def _threads_mentioning(session: Session, workspace_id: int, emails: set[str]) -> list[int]:
    """Threads whose messages name one of these addresses in From, To or Cc."""
    if not emails:
        return []
    found: set[int] = set()
    columns = (Message.from_addr, Message.to_addrs, Message.cc_addrs)
    if len(emails) <= 20:  # a few people: let the database do the substring scan
        terms = [c.contains(e, autoescape=True) for e in emails for c in columns]
        query = select(Message.thread_id, *columns).where(
            Message.workspace_id == workspace_id, or_(*terms)
        )
    else:  # many people: one pass in Python beats one scan per handful of them
        query = select(Message.thread_id, *columns).where(Message.workspace_id == workspace_id)
    for thread_id, *headers in session.execute(query.execution_options(yield_per=5000)):
        if thread_id in found:
            continue
        if any(a.email in emails for h in headers for a in parse_addresses(h)):
            found.add(thread_id)
    return sorted(found)


def link_existing_mail(
    session: Session, workspace_id: int, lead_ids: Iterable[int], now: dt.datetime
) -> Captured:
    """Match leads to the mail already stored: a lead added by hand, or one a sync created
    whose earlier threads were stored before it existed. Links and activities only."""
    ids = list(lead_ids)
    if not ids:
        return Captured()
    emails: set[str] = set()
    for chunk in chunks(ids):
        emails.update(session.scalars(select(LeadEmail.email).where(LeadEmail.lead_id.in_(chunk))))
    threads = _threads_mentioning(session, workspace_id, emails)
    return _capture_in_batches(session, workspace_id, threads, now, create=False)


def recapture_step(
    session: Session, workspace_id: int, now: dt.datetime, step: int = RECAPTURE_STEP
) -> Captured | None:
    """Capture the next `step` threads of stored mail again, after the rules changed, and move the
    workspace's cursor past them; None when nothing is pending. The cursor moves by a
    conditional update, so of two clocks stepping at once, one step counts (capture is
    idempotent: the other one's work changes nothing)."""
    start = session.scalar(select(Workspace.recapture_from).where(Workspace.id == workspace_id))
    if start is None:
        return None
    ids = list(
        session.scalars(
            select(Thread.id)
            .where(Thread.workspace_id == workspace_id, Thread.id > start)
            .order_by(Thread.id)
            .limit(step)
        )
    )
    result = _capture_in_batches(session, workspace_id, ids, now, create=True)
    session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id, Workspace.recapture_from == start)
        .values(
            recapture_from=ids[-1] if len(ids) == step else None,
            recapture_created=Workspace.recapture_created + len(result.created),
        ),
        execution_options={"synchronize_session": False},
    )
    return result


def recapture(session: Session, workspace_id: int, now: dt.datetime) -> Captured:
    """Capture all stored mail again, now (the clock does it a step at a time)."""
    session.execute(
        update(Workspace)
        .where(Workspace.id == workspace_id)
        .values(recapture_from=0, recapture_created=0),
        execution_options={"synchronize_session": False},
    )
    result = Captured()
    while (step := recapture_step(session, workspace_id, now)) is not None:
        result.add(step)
    return result
