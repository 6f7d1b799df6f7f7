"""The webhooks' clock tick: fan the new events out to deliveries, then deliver the due
ones, several at once (a slow endpoint holds up only its own), each lead's in order."""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import and_, insert, not_, select
from sqlalchemy.orm import Session, aliased

from inboxcrm import queue
from inboxcrm.config import Settings
from inboxcrm.db import Database
from inboxcrm.notifications.models import NoticeKind
from inboxcrm.notifications.notify import notify_admins
from inboxcrm.runtime import Runtime
from inboxcrm.webhooks.deliver import DISABLE_AFTER, MIN_FAILURES, TOTAL_S, Answer, next_try, post
from inboxcrm.webhooks.fanout import fan_out
from inboxcrm.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint

LEASE = dt.timedelta(seconds=TOTAL_S * 6)  # past the longest attempt: a dead worker's go again
STEP = 16  # deliveries claimed at once, POSTed side by side
WORKERS = 8
TICK_SECONDS = 10.0


def webhooks_due(runtime: Runtime, now: dt.datetime) -> int:
    return drain(runtime.database, runtime.settings, now)


def drain(
    database: Database, settings: Settings, now: dt.datetime, seconds: float | None = TICK_SECONDS
) -> int:
    """Fan out, then deliver what is due at `now`, for `seconds` (None: until nothing is
    due); returns how many deliveries were attempted."""
    deadline = None if seconds is None else time.monotonic() + seconds
    while True:
        with database.session() as session:
            if not fan_out(session, now):
                break
    done = 0
    with ThreadPoolExecutor(WORKERS, thread_name_prefix="webhook") as pool:
        while deadline is None or time.monotonic() < deadline:
            with database.session() as session:
                ids = _claim(session, now)
                work = [
                    (d.id, d.endpoint.url, d.endpoint.secret, d.body)
                    for d in session.scalars(
                        select(WebhookDelivery).where(WebhookDelivery.id.in_(ids))
                    )
                ]
            if not work:
                break
            answers = list(pool.map(lambda w: post(w[1], w[2], w[3], settings), work))
            with database.session() as session:
                for (delivery_id, *_), answer in zip(work, answers, strict=True):
                    _record(session, delivery_id, answer, now)
            done += len(work)
    return done


def _claim(session: Session, now: dt.datetime) -> list[int]:
    """Due deliveries of enabled endpoints with no earlier delivery about the same lead
    still pending at the same endpoint: a lead's events arrive in order."""
    earlier = aliased(WebhookDelivery)
    first_of_lead = not_(
        select(earlier.id)
        .where(
            earlier.endpoint_id == WebhookDelivery.endpoint_id,
            earlier.lead_id == WebhookDelivery.lead_id,
            earlier.state == DeliveryState.pending,
            earlier.seq < WebhookDelivery.seq,
        )
        .exists()
    )
    ready = and_(
        queue.due(WebhookDelivery.next_at, now),
        WebhookDelivery.state == DeliveryState.pending,
        first_of_lead,
    )
    return queue.claim(
        session,
        WebhookDelivery.next_at,
        now,
        LEASE,
        WebhookEndpoint.enabled.is_(True),
        limit=STEP,
        ready=ready,
        join=(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id),
        order_by=(WebhookDelivery.seq, WebhookDelivery.id),
    )


def _record(session: Session, delivery_id: int, answer: Answer, now: dt.datetime) -> None:
    delivery = session.get_one(WebhookDelivery, delivery_id)
    endpoint = delivery.endpoint
    delivery.attempts += 1
    session.execute(
        insert(WebhookAttempt),
        {
            "delivery_id": delivery.id,
            "endpoint_id": endpoint.id,
            "at": now,
            "status": answer.status,
            "latency_ms": answer.latency_ms,
            "error": answer.error,
            "response": answer.response,
        },
    )
    if answer.ok:
        delivery.state, delivery.next_at, delivery.delivered_at = DeliveryState.delivered, None, now
        endpoint.failures, endpoint.failing_since = 0, None
        return
    retry = next_try(delivery.attempts, delivery.created_at, now)
    delivery.next_at = retry
    if retry is None:
        delivery.state = DeliveryState.failed
    endpoint.failures += 1
    endpoint.failing_since = endpoint.failing_since or now
    if (
        endpoint.enabled
        and endpoint.failures >= MIN_FAILURES
        and now - endpoint.failing_since >= DISABLE_AFTER
    ):
        endpoint.enabled = False
        since = f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC"
        reason = f"failed {endpoint.failures} times in a row since {since}: {answer.error}"
        endpoint.disabled_reason = reason[:300]
        notify_admins(
            session,
            endpoint.workspace_id,
            NoticeKind.webhook_disabled,
            f"Webhook {endpoint.url[:120]} was disabled: it failed for a day",
            f"webhook-off:{endpoint.id}:{now.isoformat()}",
            now,
        )
