"""Registering, changing and removing endpoints (admins only), and the test event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.config import Settings
from inboxcrm.errors import Invalid
from inboxcrm.events import EventType
from inboxcrm.tenancy import Scope
from inboxcrm.webhooks.models import WebhookDelivery, WebhookEndpoint
from inboxcrm.webhooks.signing import new_secret
from inboxcrm.webhooks.targets import check_url

# What an endpoint may subscribe to, as the settings page names them.
SUBSCRIBABLE: dict[EventType, str] = {
    EventType.lead_created: "Lead created",
    EventType.lead_updated: "Lead updated",
    EventType.lead_merged: "Leads merged",
    EventType.lead_removed: "Lead removed",
    EventType.stage_changed: "Stage changed",
    EventType.reply_received: "Reply received",
    EventType.score_crossed: "Score crossed a line",
    EventType.temperature_changed: "Temperature changed",
    EventType.email_sent: "Email sent",
    EventType.email_bounced: "Email bounced",
    EventType.lead_unsubscribed: "Lead unsubscribed",
    EventType.sequence_exited: "Sequence exited",
}


def _events(names: Sequence[str]) -> list[str]:
    known = {t.value for t in SUBSCRIBABLE}
    unknown = sorted(set(names) - known)
    if unknown:
        raise Invalid(
            f"unknown events: {', '.join(unknown)}; use {', '.join(sorted(known))}",
            {"events": "unknown"},
        )
    if not names:
        raise Invalid("choose at least one event", {"events": "none chosen"})
    return sorted(set(names))


def create_endpoint(
    scope: Scope,
    actor: Member,
    settings: Settings,
    url: str,
    events: Sequence[str],
    description: str,
    now: dt.datetime,
) -> WebhookEndpoint:
    require_admin(actor, "manage webhooks")
    endpoint = WebhookEndpoint(
        workspace_id=scope.workspace_id,
        url=check_url(url, settings),
        events=_events(events),
        description=description.strip()[:200],
        secret=new_secret(),
        created_at=now,
    )
    scope.session.add(endpoint)
    scope.session.flush()
    return endpoint


def update_endpoint(
    endpoint: WebhookEndpoint,
    actor: Member,
    settings: Settings,
    *,
    url: str | None = None,
    events: Sequence[str] | None = None,
    enabled: bool | None = None,
) -> None:
    require_admin(actor, "manage webhooks")
    if url is not None:
        endpoint.url = check_url(url, settings)
    if events is not None:
        endpoint.events = _events(events)
    if enabled is not None:
        endpoint.enabled = enabled
        if enabled:  # a fresh start: its deliveries go out again
            endpoint.failures, endpoint.failing_since, endpoint.disabled_reason = 0, None, None


def remove_endpoint(scope: Scope, endpoint: WebhookEndpoint, actor: Member) -> None:
    require_admin(actor, "manage webhooks")
    scope.session.delete(endpoint)


def send_test(
    scope: Scope, endpoint: WebhookEndpoint, actor: Member, now: dt.datetime
) -> WebhookDelivery:
    """A `test` event for this endpoint only, queued for the next tick."""
    require_admin(actor, "manage webhooks")
    delivery = WebhookDelivery(
        workspace_id=scope.workspace_id,
        endpoint_id=endpoint.id,
        seq=0,
        event_type=EventType.test,
        lead_id=None,
        body={},
        next_at=now,
        created_at=now,
    )
    scope.session.add(delivery)
    scope.session.flush()
    delivery.body = {
        "id": f"evt_test_{delivery.id}",
        "type": EventType.test.value,
        "created": now.isoformat(),
        "workspace_id": scope.workspace_id,
        "data": {"message": "a test event from inboxcrm"},
    }
    return delivery
