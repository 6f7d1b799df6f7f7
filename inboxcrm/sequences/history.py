"""An enrollment's history, written set-based: one INSERT for any number of events."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import insert
from sqlalchemy.orm import Session

from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.sequences.models import EnrollmentEvent, EventKind


@dataclass(frozen=True)
class Event:
    enrollment_id: int
    kind: EventKind
    at: dt.datetime
    step_id: int | None = None
    detail: str = ""


def record(session: Session, workspace_id: int, events: Sequence[Event]) -> None:
    if not events:
        return
    session.execute(
        insert(core_table(EnrollmentEvent)),
        [
            {
                "workspace_id": workspace_id,
                "enrollment_id": e.enrollment_id,
                "at": e.at,
                "kind": e.kind.value,
                "step_id": e.step_id,
                "detail": e.detail[:500],
            }
            for e in events
        ],
    )
