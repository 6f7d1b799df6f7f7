"""Threads and their leads: the leads known by address, a link per lead on each thread (a
detached one stays detached), and the thread's primary lead, queued for its stage's Gmail
label when it is past the entry stage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.db import chunks
from inboxcrm.leads.capture.bulk import insert_rows, update_by_id
from inboxcrm.leads.capture.messages import Mail
from inboxcrm.leads.models import Lead, LeadEmail, LinkSource, ThreadLead
from inboxcrm.mail.models import Thread
from inboxcrm.mail.store import queue_relabel
from inboxcrm.stages.models import Stage


def existing_leads(session: Session, workspace_id: int, emails: Iterable[str]) -> dict[str, int]:
    """The leads that have these addresses: address -> lead id."""
    found: dict[str, int] = {}
    for chunk in chunks(emails):
        rows = session.execute(
            select(LeadEmail.email, LeadEmail.lead_id).where(
                LeadEmail.workspace_id == workspace_id, LeadEmail.email.in_(chunk)
            )
        )
        found.update(rows.tuples().all())
    return found


def link(
    session: Session, workspace_id: int, threads: dict[int, list[Mail]], lead_of: dict[str, int]
) -> tuple[int, list[int]]:
    """A link per lead on each thread (a detached one stays detached), and the primary lead:
    the first external participant who is a lead, unless a rep chose one. Returns the
    links added and the threads that got a new primary lead."""
    links: dict[tuple[int, int], bool] = {}
    heads: dict[int, tuple[int | None, bool]] = {}  # thread -> primary lead, chosen by a rep
    for chunk in chunks(threads):
        rows = session.execute(
            select(ThreadLead.thread_id, ThreadLead.lead_id, ThreadLead.detached).where(
                ThreadLead.thread_id.in_(chunk)
            )
        )
        links.update({(t, lead): detached for t, lead, detached in rows.tuples()})
        found = session.execute(
            select(Thread.id, Thread.primary_lead_id, Thread.primary_by_rep).where(
                Thread.id.in_(chunk)
            )
        )
        heads.update((t, (lead, by_rep)) for t, lead, by_rep in found.tuples())
    new_links: list[dict[str, Any]] = []
    primaries: list[dict[str, Any]] = []
    for thread_id, mails in threads.items():
        leads = list(
            dict.fromkeys(lead_of[a.email] for m in mails for a in m.external if a.email in lead_of)
        )
        for lead_id in leads:
            if (thread_id, lead_id) not in links:
                links[(thread_id, lead_id)] = False
                new_links.append(
                    {"workspace_id": workspace_id, "thread_id": thread_id,
                     "lead_id": lead_id, "source": LinkSource.mail, "detached": False}
                )  # fmt: skip
        current, by_rep = heads.get(thread_id, (None, True))
        if by_rep:
            continue
        primary = next((i for i in leads if not links[(thread_id, i)]), None)
        if primary is None:  # a lead attached by hand, if that is all there is
            primary = next(
                (lead for (t, lead), off in links.items() if t == thread_id and not off), None
            )
        if current != primary:
            primaries.append({"row": thread_id, "lead": primary})
    if new_links:
        insert_rows(session, ThreadLead, new_links)
    if primaries:
        update_by_id(session, Thread, primaries, {"primary_lead_id": "lead"})
    return len(new_links), [p["row"] for p in primaries if p["lead"] is not None]


def label_new_primaries(session: Session, thread_ids: list[int], now: dt.datetime) -> None:
    """A thread whose primary lead is already past the entry stage should carry that
    stage's Gmail label: queue it for the relabel job, as a move would."""
    if not thread_ids:
        return
    for chunk in chunks(thread_ids):
        staged = (
            select(Thread.id)
            .join(Lead, Lead.id == Thread.primary_lead_id)
            .join(Stage, Stage.id == Lead.stage_id)
            .where(Thread.id.in_(chunk), Stage.label.is_not(None))
        )
        queue_relabel(session, now, Thread.id.in_(staged))
