"""Webhooks' tables: endpoints, deliveries (the queue) and the attempts' log."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, enum_column
from inboxcrm.events import EventType


class WebhookEndpoint(InWorkspace, Base):
    __tablename__ = "webhook_endpoint"

    url: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(String(200), default="")
    events: Mapped[list[str]] = mapped_column(JSON)  # EventType values
    secret: Mapped[str] = mapped_column(String(80))  # signs every delivery (HMAC-SHA256)
    enabled: Mapped[bool] = mapped_column(default=True, server_default=true())
    # Failed attempts in a row, since when; a day of nothing but failures disables it.
    failures: Mapped[int] = mapped_column(default=0)
    failing_since: Mapped[dt.datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime]

    def wants(self, type: EventType) -> bool:
        return type.value in self.events


class DeliveryState(enum.StrEnum):
    pending = "pending"
    delivered = "delivered"
    failed = "failed"  # retried for a day and given up


class WebhookDelivery(InWorkspace, Base):
    """One event for one endpoint: the queue (`next_at`) the deliver job drains. `seq` is
    the event's id: deliveries about one lead go out in that order."""

    __tablename__ = "webhook_delivery"

    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    seq: Mapped[int]
    event_type: Mapped[EventType] = mapped_column(enum_column(EventType))
    lead_id: Mapped[int | None]  # no foreign key: the delivery outlives the lead
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[DeliveryState] = mapped_column(
        enum_column(DeliveryState), default=DeliveryState.pending
    )
    attempts: Mapped[int] = mapped_column(default=0)
    next_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    delivered_at: Mapped[dt.datetime | None]

    endpoint: Mapped[WebhookEndpoint] = relationship()

    __table_args__ = (
        Index(None, "next_at"),
        Index(None, "endpoint_id", "lead_id", "state", "seq"),
        Index(None, "endpoint_id", "id"),
    )


class WebhookAttempt(Base):
    """The delivery log: each attempt's answer (status, latency, the start of the body)."""

    __tablename__ = "webhook_attempt"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_delivery.id", ondelete="CASCADE"))
    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoint.id", ondelete="CASCADE"))
    at: Mapped[dt.datetime]
    status: Mapped[int | None]  # None: no answer (refused, timed out, blocked)
    latency_ms: Mapped[int]
    error: Mapped[str | None] = mapped_column(String(300))
    response: Mapped[str] = mapped_column(Text, default="")

    __table_args__ = (Index(None, "endpoint_id", "at"), Index(None, "delivery_id"))
