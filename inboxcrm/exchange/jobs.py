"""The imports' clock tick: run (or undo) queued imports, a batch per transaction, for as
long as a tick may take; the next tick goes on from the last batch committed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import update

from inboxcrm import queue
from inboxcrm.exchange.imports import LEASE, work
from inboxcrm.exchange.models import ImportState, LeadImport
from inboxcrm.runtime import Runtime

TICK_SECONDS = 10.0
ACTIVE = (ImportState.queued, ImportState.running, ImportState.undoing)


def imports_due(runtime: Runtime, now: dt.datetime) -> int:
    """Work the due imports one after another; returns how many were claimed."""
    database = runtime.database
    with database.session() as session:
        ids = queue.claim(
            session, LeadImport.run_at, now, LEASE, LeadImport.state.in_(ACTIVE), limit=3
        )
    for import_id in ids:
        finished = work(database, import_id, now, seconds=TICK_SECONDS)
        if not finished:
            with database.session() as session:  # due again at the next tick
                session.execute(
                    update(LeadImport).where(LeadImport.id == import_id).values(run_at=now)
                )
    return len(ids)
