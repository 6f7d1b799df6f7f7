"""What is checked at send time, not only when a send is planned: each check is a small
function that names why a Send must not go, or None. `CHECKS` runs them in order; adding
one (suppression, an enrollment's exit) is one line."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.leads.models import Lead, LeadEmail
from inboxcrm.outbox.models import Send, SkipReason, SourceKind, SuppressionReason
from inboxcrm.outbox.suppression import suppressed as suppression_of
from inboxcrm.stages.models import StageKind

# A lead in a stage of these kinds gets no campaign or sequence mail (a rep may still
# write to it from the lead page).
UNMARKETABLE = frozenset({StageKind.lost, StageKind.unqualified})


@dataclass(frozen=True)
class Due:
    """A Send about to be composed, with its lead (None: the lead was removed)."""

    session: Session
    send: Send
    lead: Lead | None
    now: dt.datetime

    @property
    def marketing(self) -> bool:
        return self.send.source_kind is not SourceKind.oneoff


Check = Callable[[Due], SkipReason | None]


def lead_removed(due: Due) -> SkipReason | None:
    if due.send.source_kind is SourceKind.test:  # to the marketer herself, no lead
        return None
    lead = due.lead
    removed = lead is None or lead.workspace_id != due.send.workspace_id
    return SkipReason.lead_removed if removed else None


def bouncing(due: Due) -> SkipReason | None:
    """The address bounces (a hard bounce, or three soft ones in a row)."""
    found = due.session.scalar(
        select(LeadEmail.id).where(
            LeadEmail.workspace_id == due.send.workspace_id,
            LeadEmail.email == due.send.to_email,
            LeadEmail.bouncing_at.is_not(None),
        )
    )
    return SkipReason.bouncing if found is not None else None


def suppressed(due: Due) -> SkipReason | None:
    """The address (or its domain) is suppressed. An unsubscribe stops campaign and
    sequence mail; a rep may still answer the person from the lead page, as one writes to
    someone who left a mailing list. A hard bounce, a complaint or "Do not email" stops
    every send."""
    found = suppression_of(due.session, due.send.workspace_id, [due.send.to_email])
    row = found.get(due.send.to_email)
    if row is None or (row.reason is SuppressionReason.unsubscribed and not due.marketing):
        return None
    return SkipReason.suppressed


def unmarketable(due: Due) -> SkipReason | None:
    if not due.marketing or due.lead is None:
        return None
    return SkipReason.unmarketable if due.lead.stage.kind in UNMARKETABLE else None


CHECKS: tuple[Check, ...] = (lead_removed, suppressed, bouncing, unmarketable)
