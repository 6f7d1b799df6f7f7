"""Webhooks as a receiver sees them: every event, signed, in order per lead, retried
when it fails, bounded when it misbehaves, and nothing lost when the sender is killed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.config import Settings
from inboxcrm.db import Database, utcnow
from inboxcrm.errors import Invalid
from inboxcrm.events import Event
from inboxcrm.leads.junk import not_a_lead
from inboxcrm.leads.merge import merge_leads
from inboxcrm.leads.moves import move_lead
from inboxcrm.leads.schemas import LeadUpdate
from inboxcrm.leads.service import update_lead
from inboxcrm.notifications.models import NoticeKind, Notification
from inboxcrm.stages.models import ChangeSource
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope
from inboxcrm.webhooks.deliver import BACKOFF
from inboxcrm.webhooks.endpoints import create_endpoint, send_test
from inboxcrm.webhooks.jobs import drain
from inboxcrm.webhooks.models import DeliveryState, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests.factories import LeadFactory, MemberFactory
from tests.support.receiver import Receiver, receiver

# After the factories' leads (made at the real time): their events are due by then.
NOW = utcnow() + dt.timedelta(hours=1)
ALL = [
    "lead.created",
    "lead.updated",
    "lead.merged",
    "lead.removed",
    "stage.changed",
    "reply.received",
]


def _endpoint(
    session: Session, settings: Settings, admin: Member, hook: Receiver
) -> WebhookEndpoint:
    added = utcnow()  # before the leads the test makes: it hears of them
    endpoint = create_endpoint(
        Scope(session, admin.workspace_id), admin, settings, hook.url, ALL, "", added
    )
    session.commit()
    hook.secret = endpoint.secret
    return endpoint


def test_each_change_reaches_the_receiver_signed_and_in_order(
    db: Database, session: Session, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    with receiver() as hook:
        _endpoint(session, settings, admin, hook)
        scope = Scope(session, admin.workspace_id)
        ann = LeadFactory(owner=admin, email="ann@acme.example", name="Ann")
        dup = LeadFactory(owner=admin, email="ann.lee@acme.example")
        gone = LeadFactory(owner=admin, email="spam@junk.example")
        update_lead(scope, ann, LeadUpdate(title="CTO"), admin, NOW)
        sql = next(s for s in list_stages(scope) if s.name == "SQL")
        move_lead(scope, ann, sql, source=ChangeSource.member, now=NOW, member_id=admin.id)
        merge_leads(scope, ann, dup, admin, NOW)
        not_a_lead(scope, [gone.id], admin, None, NOW)
        session.commit()
        assert drain(db, settings, NOW, seconds=None) == 7
        assert all(r.signed for r in hook.received)
        about_ann = [
            r.body["type"]
            for r in hook.received
            if (r.body["data"].get("lead") or r.body["data"]).get("id") == ann.id
        ]
        assert about_ann == ["lead.created", "lead.updated", "stage.changed", "lead.merged"]
        moved = next(r.body for r in hook.received if r.body["type"] == "stage.changed")
        assert (moved["data"]["from"]["name"], moved["data"]["to"]["name"]) == ("Lead", "SQL")
        removed = next(r.body for r in hook.received if r.body["type"] == "lead.removed")
        assert removed["data"]["lead"]["email"] == "spam@junk.example"
        assert len(set(hook.ids())) == 7
        assert hook.received[0].headers["Inboxcrm-Event-Type"] == "lead.created"
    assert session.scalar(select(func.count()).select_from(Event)) == 0  # all fanned out


def test_a_failing_receiver_gets_retries_with_backoff_and_the_lead_s_next_event_waits(
    db: Database, session: Session, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    with receiver() as hook:
        hook.answers = ["500", "500", "200"]
        _endpoint(session, settings, admin, hook)
        ann = LeadFactory(owner=admin, email="ann@acme.example")
        update_lead(Scope(session, ann.workspace_id), ann, LeadUpdate(title="CTO"), admin, NOW)
        session.commit()
        drain(db, settings, NOW, seconds=None)
        assert [r.body["type"] for r in hook.received] == [
            "lead.created"
        ]  # the update waits its turn
        drain(db, settings, NOW + BACKOFF[0] - dt.timedelta(seconds=1), seconds=None)
        assert len(hook.received) == 1  # not yet due
        drain(db, settings, NOW + BACKOFF[0], seconds=None)
        drain(db, settings, NOW + BACKOFF[0] + BACKOFF[1], seconds=None)
        assert [r.body["type"] for r in hook.received] == ["lead.created"] * 3 + ["lead.updated"]
        log = session.scalars(select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
        assert [a.status for a in log] == [500, 500, 200, 200]
        assert log[0].error == "HTTP 500"


def test_an_endpoint_failing_for_a_day_is_disabled_and_its_admins_told(
    db: Database, session: Session, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    with receiver() as hook:
        hook.answers = ["503"]
        endpoint = _endpoint(session, settings, admin, hook)
        LeadFactory(owner=admin, email="ann@acme.example")
        at = NOW
        drain(db, settings, at, seconds=None)
        for wait in BACKOFF:
            at += wait
            drain(db, settings, at, seconds=None)
        session.expire_all()
        delivery = session.scalars(select(WebhookDelivery)).one()
        assert (delivery.state, delivery.attempts) == (DeliveryState.failed, len(BACKOFF) + 1)
        assert at - NOW >= dt.timedelta(hours=23)
        endpoint = session.get_one(WebhookEndpoint, endpoint.id)
        assert not endpoint.enabled
        assert endpoint.disabled_reason is not None
        notice = session.scalars(
            select(Notification).where(Notification.member_id == admin.id)
        ).one()
        assert notice.kind is NoticeKind.webhook_disabled
        assert notice.lead_id is None


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        ("redirect", 302, "redirect to http://127.0.0.1:9/elsewhere not followed"),
        ("huge", 200, None),
    ],
)
def test_a_misbehaving_receiver_is_bounded(
    db: Database, session: Session, settings: Settings, answer: str, status: int, error: str | None
) -> None:
    admin = MemberFactory(role=Role.admin)
    with receiver() as hook:
        hook.answers = [answer]
        _endpoint(session, settings, admin, hook)
        LeadFactory(owner=admin, email="ann@acme.example")
        drain(db, settings, NOW, seconds=None)
        attempt = session.scalars(select(WebhookAttempt)).one()
        assert (attempt.status, attempt.error) == (status, error)
        assert len(attempt.response) <= 500


@pytest.mark.slow
def test_a_receiver_that_hangs_times_out_and_does_not_hold_up_another(
    db: Database, session: Session, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    with receiver() as slow, receiver() as fast:
        slow.answers = ["hang"]
        _endpoint(session, settings, admin, slow)
        _endpoint(session, settings, admin, fast)
        LeadFactory(owner=admin, email="ann@acme.example")
        drain(db, settings, NOW, seconds=None)
        attempts = {a.endpoint_id: a for a in session.scalars(select(WebhookAttempt))}
        assert len(fast.received) == 1
        assert {(a.status, a.error) for a in attempts.values()} == {
            (200, None),
            (None, "timed out"),
        }


def test_nothing_is_lost_when_the_sender_is_killed_between_posting_and_recording(
    db: Database, session: Session, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    with receiver() as hook:
        _endpoint(session, settings, admin, hook)
        for i in range(5):
            LeadFactory(owner=admin, email=f"p{i}@acme.example")
        # A clock killed after claiming (and maybe POSTing) but before recording: the
        # claim's lease runs out and the deliveries go again; the receiver sees each at
        # least once, by the same event id.
        with db.session() as s:
            from inboxcrm.webhooks.fanout import fan_out
            from inboxcrm.webhooks.jobs import _claim

            fan_out(s, NOW)
        with db.session() as s:
            claimed = _claim(s, NOW)
        assert len(claimed) == 5
        assert drain(db, settings, NOW, seconds=None) == 0  # leased: not twice at once
        drain(db, settings, NOW + dt.timedelta(minutes=5), seconds=None)
        assert sorted(hook.ids()) == sorted(f"evt_{e}" for e in range(1, 6))


def test_send_test_event_goes_to_that_endpoint_only(
    db: Database, session: Session, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    with receiver() as one, receiver() as two:
        endpoint = _endpoint(session, settings, admin, one)
        _endpoint(session, settings, admin, two)
        send_test(Scope(session, admin.workspace_id), endpoint, admin, NOW)
        session.commit()
        drain(db, settings, NOW, seconds=None)
        assert [r.body["type"] for r in one.received] == ["test"]
        assert one.received[0].signed
        assert two.received == []


def test_an_endpoint_cannot_point_at_a_private_address_outside_test(
    session: Session, settings: Settings
) -> None:
    admin = MemberFactory(role=Role.admin)
    scope = Scope(session, admin.workspace_id)
    production = Settings(**{**settings.__dict__, "env": "production"})
    for url, why in [
        ("http://127.0.0.1:8080/x", "must start with https://"),
        ("https://127.0.0.1:8080/x", "not a public address"),
        ("https://10.1.2.3/x", "not a public address"),
        ("https://169.254.169.254/latest/meta-data", "not a public address"),
        ("https://user:pw@example.com/x", "user name or password"),
    ]:
        with pytest.raises(Invalid, match=why):
            create_endpoint(scope, admin, production, url, ALL, "", NOW)
    with pytest.raises(Invalid, match="cannot point at inboxcrm itself"):
        create_endpoint(scope, admin, settings, settings.base_url + "/api/v1/leads", ALL, "", NOW)
    with pytest.raises(Invalid, match="not a public address"):  # link-local, even in test
        create_endpoint(scope, admin, settings, "http://169.254.169.254/", ALL, "", NOW)
    with pytest.raises(Invalid, match=r"unknown events: lead\.exploded"):
        create_endpoint(
            scope, admin, settings, "http://127.0.0.1:8080/x", ["lead.exploded"], "", NOW
        )
