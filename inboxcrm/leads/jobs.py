"""The clock's capture tick: after the capture rules change, apply them to the mail
already synced, a step of threads at a time."""

from __future__ import annotations

import datetime as dt
import time

from sqlalchemy import select

from inboxcrm.accounts.models import Workspace
from inboxcrm.leads.capture.backfill import recapture_step
from inboxcrm.scheduler import Runtime

TICK_SECONDS = 10.0  # a tick yields after this long; the next one goes on from the cursor


def recapture_due(runtime: Runtime, now: dt.datetime) -> None:
    database = runtime.database
    with database.session() as session:
        pending = list(
            session.scalars(select(Workspace.id).where(Workspace.recapture_from.is_not(None)))
        )
    deadline = time.monotonic() + TICK_SECONDS
    for workspace_id in pending:
        while time.monotonic() < deadline:
            with database.session() as session:  # each step commits on its own
                if recapture_step(session, workspace_id, now) is None:
                    break
