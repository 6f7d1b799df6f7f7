""" "Only if opened / clicked the previous email" reads that email's own tracking hits, as
the clock classified them: a person's open of step 1 lets step 2 go; an open of some other
mail the lead got since, or a machine's fetch of step 1 (Gmail's image proxy, Apple's
privacy prefetch, a link scanner), does not."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, Member
from inboxcrm.db import Database
from inboxcrm.leads.models import Lead
from inboxcrm.outbox.jobs import classify_hits
from inboxcrm.outbox.models import HitKind, Send, SendState, SourceKind, TrackingHit
from inboxcrm.outbox.service import plan_send
from inboxcrm.sequences import service
from inboxcrm.sequences.advance import advance_enrollments
from inboxcrm.sequences.models import Enrollment, EnrollmentEvent, EnrollmentState, Sequence
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory
from tests.support.sequences import T0, new_sequence, template_version

pytestmark = pytest.mark.db

HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
BROWSER = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) AppleWebKit/605.1.15 Version/17.1 Safari"
GMAIL_PROXY = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)


def _sequence(scope: Scope, admin: Member, condition: str) -> Sequence:
    """An email, a day, and a second email on this condition."""
    return new_sequence(scope, admin, [
        {"kind": "email", "template_version_id": template_version(scope, admin, "One")},
        {"kind": "wait", "wait_amount": 1, "wait_unit": "days"},
        {"kind": "email", "template_version_id": template_version(scope, admin, "Two"),
         "condition": condition},
    ])  # fmt: skip


def _send_first(session: Session, db: Database, seq: Sequence, lead: Lead) -> Send:
    """Enrolled at T0, step 1 planned and (as dispatch would) sent at T0."""
    (enrollment_id,) = service.enroll(Scope(session, lead.workspace_id), seq, [lead.id], T0,
                                      by="test").enrolled  # fmt: skip
    session.commit()
    advance_enrollments(db, T0)
    session.expire_all()
    enrollment = session.get_one(Enrollment, enrollment_id)
    assert enrollment.last_send_id is not None
    send = session.get_one(Send, enrollment.last_send_id)
    send.state, send.sent_at, send.due_at = SendState.sent, T0, None
    session.commit()
    return send


def _hit(
    session: Session, send: Send, kind: HitKind, at: dt.datetime, agent: str, ip: str, method: str
) -> None:
    """A request to one of the send's tracking URLs, as the pixel or redirect writes it."""
    assert send.lead_id is not None
    assert send.sent_at is not None
    session.add(
        TrackingHit(
            workspace_id=send.workspace_id,
            lead_id=send.lead_id,
            send_ref=str(send.id),
            kind=kind,
            url="https://example.com/pricing" if kind is HitKind.click else None,
            method=method,
            user_agent=agent,
            ip=ip,
            at=at,
            sent_at=send.sent_at,
            classify_at=at,
        )
    )
    session.commit()


def _second_step(session: Session, db: Database, lead: Lead) -> str:
    """After the wait: whether step 2 was planned, or the reason it was skipped."""
    advance_enrollments(db, T0 + DAY + HOUR)
    session.expire_all()
    enrollment = session.scalars(select(Enrollment).where(Enrollment.lead_id == lead.id)).one()
    assert enrollment.state is EnrollmentState.finished
    events = session.scalars(
        select(EnrollmentEvent)
        .where(EnrollmentEvent.enrollment_id == enrollment.id)
        .order_by(EnrollmentEvent.id)
    ).all()
    last = [e for e in events if e.kind.value in ("planned", "skipped")][-1]
    return f"{last.kind.value}: {last.detail}"


@pytest.mark.parametrize(
    ("kind", "agent", "ip", "method", "outcome"),
    [
        (HitKind.open, BROWSER, "203.0.113.9", "GET", "planned: Two"),
        (HitKind.click, BROWSER, "203.0.113.9", "GET", "planned: Two"),  # a click opened it
        (HitKind.open, GMAIL_PROXY, "203.0.113.9", "GET", "skipped: the condition (opened)"),
        (HitKind.open, "Mozilla/5.0", "17.58.0.1", "GET", "skipped: the condition (opened)"),
        (HitKind.click, BROWSER, "203.0.113.9", "HEAD", "skipped: the condition (opened)"),
    ],
    ids=["person open", "person click", "gmail proxy", "apple prefetch", "scanner"],
)
def test_opened_means_a_person_opened_that_very_email(
    session: Session,
    db: Database,
    scope: Scope,
    admin: Member,
    kind: HitKind,
    agent: str,
    ip: str,
    method: str,
    outcome: str,
) -> None:
    seq = _sequence(scope, admin, "opened")
    lead = LeadFactory(owner=admin)
    first = _send_first(session, db, seq, lead)
    _hit(session, first, kind, T0 + HOUR, agent, ip, method)
    assert classify_hits(db, T0 + 2 * HOUR) == 1
    assert _second_step(session, db, lead).startswith(outcome)


def test_an_open_of_other_mail_since_step_one_does_not_count(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    seq = _sequence(scope, admin, "opened")
    lead = LeadFactory(owner=admin)
    first = _send_first(session, db, seq, lead)
    mailbox = session.scalars(select(Mailbox).where(Mailbox.member_id == admin.id)).one()
    campaign = plan_send(
        session,
        source_kind=SourceKind.campaign,
        source_id="41",
        lead=session.get_one(Lead, lead.id),
        mailbox=mailbox,
        subject="Our November news",
        text="News",
        due_at=T0 + HOUR,
    )
    campaign.state, campaign.sent_at, campaign.due_at = SendState.sent, T0 + HOUR, None
    session.commit()
    _hit(session, campaign, HitKind.open, T0 + 2 * HOUR, BROWSER, "203.0.113.9", "GET")
    _hit(session, campaign, HitKind.click, T0 + 2 * HOUR, BROWSER, "203.0.113.9", "GET")
    assert classify_hits(db, T0 + 3 * HOUR) == 2  # a person, and an engaged lead ...
    assert _second_step(session, db, lead) == (  # ... but not with step 1
        "skipped: the condition (opened) was not met"
    )
    assert first.id != campaign.id


def test_clicked_and_not_opened_read_the_same_hits(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    only_opened = _sequence(scope, admin, "clicked")
    lead = LeadFactory(owner=admin)
    first = _send_first(session, db, only_opened, lead)
    _hit(session, first, HitKind.open, T0 + HOUR, BROWSER, "203.0.113.9", "GET")
    classify_hits(db, T0 + 2 * HOUR)
    assert _second_step(session, db, lead) == "skipped: the condition (clicked) was not met"
    quiet = _sequence(scope, admin, "not_opened")
    other = LeadFactory(owner=admin)
    first = _send_first(session, db, quiet, other)
    _hit(session, first, HitKind.open, T0 + HOUR, "Mozilla/5.0", "17.58.0.1", "GET")  # Apple
    classify_hits(db, T0 + 2 * HOUR)
    assert _second_step(session, db, other) == "planned: Two"  # no person opened it
