"""The outbox's clock ticks: dispatch passes over the due sends until none is due or the
tick's time is up (each pass claims mailbox slots and sends, so several clocks share the
work and none sends a row another holds); tracking hits classified (person, proxy,
prefetch, scanner, repeat), a person's opens and clicks made Activities that queue the
lead's rescore."""

from __future__ import annotations

import datetime as dt
import time
from itertools import groupby

from sqlalchemy import insert, select, tuple_, update
from sqlalchemy.orm import Session

from inboxcrm import queue
from inboxcrm.db import Database, chunks, utcnow
from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.outbox.checks import CHECKS, Check
from inboxcrm.outbox.dispatch import Tally, dispatch_due
from inboxcrm.outbox.models import HitKind, TrackingHit, Verdict
from inboxcrm.outbox.tracking import Hit, classify
from inboxcrm.runtime import Runtime

DISPATCH_TICK = dt.timedelta(seconds=5)  # a gap of 30 s is kept to within a few seconds
DISPATCH_SECONDS = 4.0
LEASE = dt.timedelta(minutes=2)  # a hit's classification
STEP = 1000  # hits classified in one transaction
ENGAGEMENT = {HitKind.open: ActivityKind.open, HitKind.click: ActivityKind.click}


def dispatch_sends(runtime: Runtime, now: dt.datetime, checks: tuple[Check, ...] = CHECKS) -> Tally:
    """Dispatch passes with `checks` at send time (setup adds the domains' own, such as a
    sequence's exit, to the outbox's)."""
    total = Tally()
    deadline = time.monotonic() + DISPATCH_SECONDS
    while time.monotonic() < deadline and not runtime.stopping.is_set():
        tally = dispatch_due(runtime, now, checks=checks)
        total.add(tally)
        if not tally.mailboxes:
            break
        now = utcnow()
    return total


def classify_due(runtime: Runtime, now: dt.datetime) -> int:
    return classify_hits(runtime.database, now)


def classify_hits(database: Database, now: dt.datetime) -> int:
    """Classify the hits written so far, a step at a time; returns how many."""
    return queue.drain(
        database,
        TrackingHit.classify_at,
        now,
        lambda session, ids: _classify(session, ids, now),
        lease=LEASE,
        step=STEP,
    )


def _key(hit: TrackingHit) -> tuple[int, str, HitKind, str | None]:
    return (hit.workspace_id, hit.send_ref, hit.kind, hit.url)


def _classify(session: Session, ids: list[int], now: dt.datetime) -> None:
    hits: list[TrackingHit] = []
    for chunk in chunks(ids):
        hits += session.scalars(select(TrackingHit).where(TrackingHit.id.in_(chunk)))
    hits.sort(key=lambda h: (h.at, h.id))
    counted = _counted(session, hits)
    activities = []
    for hit in hits:
        facts = Hit(hit.kind, hit.method, hit.user_agent, hit.ip, hit.at, hit.sent_at)
        hit.verdict, hit.reason = classify(facts, _key(hit) in counted)
        if hit.verdict is Verdict.person and hit.kind in ENGAGEMENT:
            counted.add(_key(hit))
            activities.append(hit)
    _engage(session, activities, now)
    session.flush()


def _counted(
    session: Session, hits: list[TrackingHit]
) -> set[tuple[int, str, HitKind, str | None]]:
    """The person hits already counted on the sends these hits belong to."""
    sends = {(h.workspace_id, h.send_ref) for h in hits}
    found: set[tuple[int, str, HitKind, str | None]] = set()
    for chunk in chunks(sends):
        rows = session.execute(
            select(TrackingHit.workspace_id, TrackingHit.send_ref, TrackingHit.kind,
                   TrackingHit.url)
            .where(tuple_(TrackingHit.workspace_id, TrackingHit.send_ref).in_(chunk),
                   TrackingHit.verdict == Verdict.person)
        )  # fmt: skip
        found.update(rows.tuples())
    return found


def _engage(session: Session, hits: list[TrackingHit], now: dt.datetime) -> None:
    """A person's open or click: an Activity for scoring, and the lead queued for rescoring
    (leads removed since the send are skipped)."""
    if not hits:
        return
    by_workspace = groupby(sorted(hits, key=lambda h: h.workspace_id), key=lambda h: h.workspace_id)
    for workspace_id, group in by_workspace:
        mine = list(group)
        leads = set(
            session.scalars(
                select(Lead.id).where(
                    Lead.workspace_id == workspace_id, Lead.id.in_({h.lead_id for h in mine})
                )
            )
        )
        rows = [
            {"workspace_id": workspace_id, "lead_id": h.lead_id, "kind": ENGAGEMENT[h.kind],
             "occurred_at": h.at, "message_id": None, "send_id": _send_id(h.send_ref),
             "detail": {"send": h.send_ref, "url": h.url, "hit": h.id}}
            for h in mine if h.lead_id in leads
        ]  # fmt: skip
        if not rows:
            continue
        session.execute(insert(core_table(Activity)), rows)
        session.execute(
            update(Lead)
            .where(Lead.id.in_(leads), (Lead.rescore_at.is_(None)) | (Lead.rescore_at > now))
            .values(rescore_at=now),
            execution_options={"synchronize_session": False},
        )


def _send_id(ref: str) -> int | None:
    """The Send a hit's token names (its id as text), for "opened campaign X"."""
    return int(ref) if ref.isdigit() else None
