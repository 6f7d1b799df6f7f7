"""Webhook endpoints under /api/v1: list, add, change, remove, test, the delivery log."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, url_for

from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import BadRequest
from inboxcrm.web import db_session, member, scope
from inboxcrm.webhooks.endpoints import create_endpoint, remove_endpoint, send_test, update_endpoint
from inboxcrm.webhooks.log import attempts, endpoint_json
from inboxcrm.webhooks.models import WebhookEndpoint
from inboxcrm.webhooks.views import settings

bp = Blueprint("webhooks", __name__)


def _strings(body: dict[str, Any], name: str) -> list[str] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{name} must be a list of strings")
    return value


def _admin_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return endpoint_json(endpoint, secret=member().role.value == "admin")


@bp.get("/webhooks")
def endpoints() -> dict[str, Any]:
    s = scope()
    rows = s.session.scalars(s.select(WebhookEndpoint).order_by(WebhookEndpoint.id))
    return {"webhooks": [_admin_view(e) for e in rows]}


@bp.post("/webhooks")
def create() -> tuple[dict[str, Any], int, dict[str, str]]:
    body = json_object()
    url = body.get("url")
    if not isinstance(url, str):
        raise BadRequest("url must be a string")
    made = create_endpoint(
        scope(),
        member(),
        settings(),
        url,
        _strings(body, "events") or [],
        str(body.get("description") or ""),
        utcnow(),
    )
    db_session().commit()
    return (
        endpoint_json(made, secret=True),
        201,
        {"Location": url_for("api.webhooks.endpoint", endpoint_id=made.id)},
    )


@bp.get("/webhooks/<int:endpoint_id>")
def endpoint(endpoint_id: int) -> dict[str, Any]:
    return _admin_view(scope().get(WebhookEndpoint, endpoint_id))


@bp.patch("/webhooks/<int:endpoint_id>")
def change(endpoint_id: int) -> dict[str, Any]:
    found = scope().get(WebhookEndpoint, endpoint_id)
    body = json_object()
    enabled = body.get("enabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise BadRequest("enabled must be true or false")
    url = body.get("url")
    if url is not None and not isinstance(url, str):
        raise BadRequest("url must be a string")
    update_endpoint(
        found, member(), settings(), url=url, events=_strings(body, "events"), enabled=enabled
    )
    db_session().commit()
    return _admin_view(found)


@bp.delete("/webhooks/<int:endpoint_id>")
def remove(endpoint_id: int) -> tuple[str, int]:
    remove_endpoint(scope(), scope().get(WebhookEndpoint, endpoint_id), member())
    db_session().commit()
    return "", 204


@bp.post("/webhooks/<int:endpoint_id>/test")
def test(endpoint_id: int) -> tuple[dict[str, Any], int]:
    delivery = send_test(scope(), scope().get(WebhookEndpoint, endpoint_id), member(), utcnow())
    db_session().commit()
    return {"delivery_id": delivery.id, "event": delivery.body["id"]}, 202


@bp.get("/webhooks/<int:endpoint_id>/deliveries")
def deliveries(endpoint_id: int) -> dict[str, Any]:
    s = scope()
    return {"attempts": attempts(s, s.get(WebhookEndpoint, endpoint_id), limit=200)}
