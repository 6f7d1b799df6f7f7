"""Events to deliveries: each event becomes one delivery per enabled endpoint of its
workspace that subscribes to its type, and is deleted, in one transaction (a process
killed midway leaves the events to fan out again, never half of them)."""

from __future__ import annotations

import datetime as dt
from itertools import groupby
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from inboxcrm import queue
from inboxcrm.events import Event, public_id
from inboxcrm.webhooks.models import DeliveryState, WebhookDelivery, WebhookEndpoint

LEASE = dt.timedelta(minutes=2)
STEP = 500


def body_of(event: Event) -> dict[str, Any]:
    return {
        "id": public_id(event.id),
        "type": event.type.value,
        "created": event.occurred_at.isoformat(),
        "workspace_id": event.workspace_id,
        "data": event.data,
    }


def fan_out(session: Session, now: dt.datetime) -> int:
    """One step: up to STEP events, oldest first; returns how many. The caller commits."""
    ids = queue.claim(session, Event.fanout_at, now, LEASE, limit=STEP, order_by=(Event.id,))
    if not ids:
        return 0
    events = list(
        session.scalars(
            select(Event).where(Event.id.in_(ids)).order_by(Event.workspace_id, Event.id)
        )
    )
    rows: list[dict[str, Any]] = []
    for workspace_id, group in groupby(events, key=lambda e: e.workspace_id):
        endpoints = list(
            session.scalars(
                select(WebhookEndpoint).where(
                    WebhookEndpoint.workspace_id == workspace_id, WebhookEndpoint.enabled.is_(True)
                )
            )
        )
        for event in group:
            for endpoint in endpoints:
                # An endpoint hears what happens after it was added, not before.
                if endpoint.wants(event.type) and endpoint.created_at <= event.occurred_at:
                    rows.append(
                        {
                            "workspace_id": workspace_id,
                            "endpoint_id": endpoint.id,
                            "seq": event.id,
                            "event_type": event.type,
                            "lead_id": event.lead_id,
                            "body": body_of(event),
                            "state": DeliveryState.pending,
                            "attempts": 0,
                            "next_at": now,
                            "created_at": now,
                        }
                    )
    if rows:
        session.execute(insert(WebhookDelivery), rows)
    session.execute(delete(Event).where(Event.id.in_(ids)))
    return len(ids)
