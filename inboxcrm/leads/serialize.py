from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.db import chunks
from inboxcrm.leads.models import Lead


def lead_ref(lead: Lead) -> dict[str, Any]:
    """Who an event is about, in short: what a receiver needs to find the lead again."""
    return {"id": lead.id, "email": lead.email, "name": lead.name}


def lead_refs(session: Session, lead_ids: Iterable[int | None]) -> dict[int, dict[str, Any]]:
    """`lead_ref` of many leads, a query per IN chunk (a set-based change's events)."""
    found: dict[int, dict[str, Any]] = {}
    for chunk in chunks({i for i in lead_ids if i is not None}):
        rows = session.execute(select(Lead.id, Lead.email, Lead.name).where(Lead.id.in_(chunk)))
        found.update((i, {"id": i, "email": e, "name": n}) for i, e, n in rows.tuples())
    return found


def lead_json(lead: Lead) -> dict[str, Any]:
    def when(value: Any) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": lead.id,
        "email": lead.email,
        "other_emails": [e.email for e in lead.emails if e.email != lead.email],
        # Every address, the primary first; a bouncing one says since when and why.
        "addresses": [
            {
                "email": e.email,
                "primary": e.email == lead.email,
                "bouncing": e.bouncing_at is not None,
                "bouncing_at": when(e.bouncing_at),
                "bounce_reason": e.bounce_reason,
            }
            for e in sorted(lead.emails, key=lambda e: (e.email != lead.email, e.id or 0))
        ],
        "name": lead.name,
        "company": ({"id": lead.company.id, "name": lead.company.name} if lead.company else None),
        "title": lead.title,
        "phone": lead.phone,
        "timezone": lead.timezone,
        "owner": (
            {"id": lead.owner.id, "email": lead.owner.email, "name": lead.owner.name}
            if lead.owner
            else None
        ),
        "stage": {"id": lead.stage.id, "name": lead.stage.name, "kind": lead.stage.kind.value},
        # A string keeps cents exact; JSON numbers are floats to most clients.
        "deal_value": None if lead.deal_value is None else str(lead.deal_value),
        "currency": lead.currency,
        "lost_reason": lead.lost_reason,
        "score": lead.score,
        "temperature": lead.temperature.value if lead.temperature else None,
        "last_engaged_at": when(lead.last_engaged_at),
        "last_contacted_at": when(lead.last_contacted_at),
        "last_replied_at": when(lead.last_replied_at),
        "first_inbound_at": when(lead.first_inbound_at),
        "first_response_at": when(lead.first_response_at),
        "source": lead.source,
        "needs_review": lead.needs_review,
        "budget": lead.budget,
        "authority": lead.authority,
        "need": lead.need,
        "timeline": lead.timeline,
        "next_step": lead.next_step,
        "tags": [t.name for t in lead.tags],
        "created_at": when(lead.created_at),
        "updated_at": when(lead.updated_at),
    }
