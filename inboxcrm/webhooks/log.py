"""An endpoint's delivery log as the settings page and the API show it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from inboxcrm.tenancy import Scope
from inboxcrm.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


def attempts(scope: Scope, endpoint: WebhookEndpoint, limit: int = 50) -> list[dict[str, Any]]:
    rows = scope.session.execute(
        select(
            WebhookAttempt, WebhookDelivery.event_type, WebhookDelivery.body, WebhookDelivery.state
        )
        .join(WebhookDelivery, WebhookDelivery.id == WebhookAttempt.delivery_id)
        .where(
            WebhookAttempt.endpoint_id == endpoint.id,
            WebhookDelivery.workspace_id == scope.workspace_id,
        )
        .order_by(WebhookAttempt.id.desc())
        .limit(limit)
    ).tuples()
    return [
        {
            "at": a.at.isoformat(),
            "event": body.get("id"),
            "type": kind.value,
            "status": a.status,
            "latency_ms": a.latency_ms,
            "error": a.error,
            "response": a.response,
            "delivery": state.value,
        }
        for a, kind, body, state in rows
    ]


def endpoint_json(endpoint: WebhookEndpoint, *, secret: bool = False) -> dict[str, Any]:
    shown: dict[str, Any] = {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": endpoint.events,
        "enabled": endpoint.enabled,
        "failures": endpoint.failures,
        "disabled_reason": endpoint.disabled_reason,
        "created_at": endpoint.created_at.isoformat(),
    }
    if secret:
        shown["secret"] = endpoint.secret
    return shown
