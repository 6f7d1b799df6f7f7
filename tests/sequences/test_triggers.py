"""The segment and inbound triggers, on the database with an injected clock: a lead
entering the segment (or arriving with an inquiry) is enrolled once, however often the
tick runs; leaving and coming back follows the sequence's re-enroll setting; a suppressed
lead, or one in another sequence, is not enrolled and the preview says why; leads refused
for a while hold up nobody behind them; a segment whose filter broke stops no other
trigger; why a trigger refused a lead shows on its page until it is enrolled."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member, Role
from inboxcrm.db import Database
from inboxcrm.leads.models import ActivityKind, Lead
from inboxcrm.outbox.models import Suppression, SuppressionReason
from inboxcrm.segments.models import Segment
from inboxcrm.segments.service import create_segment
from inboxcrm.sequences import service
from inboxcrm.sequences.models import (
    Enrollment,
    EnrollmentEvent,
    Refusal,
    Sequence,
    TriggerKind,
)
from inboxcrm.sequences.triggers import run_triggers
from inboxcrm.tenancy import Scope
from tests.factories import ActivityFactory, LeadFactory, MailboxFactory, MemberFactory
from tests.support.sequences import T0, new_sequence, template_version
from tests.support.web import sign_in

pytestmark = pytest.mark.db

MINUTE, DAY = dt.timedelta(minutes=1), dt.timedelta(days=1)
CFOS = {"field": "title", "op": "is", "value": "CFO"}
_names = itertools.count(1)


@pytest.fixture
def admin(session: Session, db: Database) -> Member:
    member = MemberFactory(role=Role.admin, name="Ada Admin")
    MailboxFactory(member=member)
    session.commit()
    run_triggers(db, T0 - DAY)  # the clock looked before: what follows is news
    return member


def _sequence(scope: Scope, admin: Member, **settings: Any) -> Sequence:
    email = {"kind": "email", "template_version_id": template_version(scope, admin, "Hello")}
    return new_sequence(scope, admin, [email], **settings)


def _segment_trigger(scope: Scope, admin: Member, seq: Sequence) -> Segment:
    segment = create_segment(scope, admin, f"CFOs {next(_names)}", CFOS)
    service.add_trigger(scope, seq, TriggerKind.segment, {"segment_id": segment.id}, T0)
    scope.session.commit()
    return segment


def _title(session: Session, lead: Lead, title: str) -> None:
    session.get_one(Lead, lead.id).title = title
    session.commit()


def _suppress(session: Session, lead: Lead) -> None:
    session.add(
        Suppression(
            workspace_id=lead.workspace_id,
            pattern=lead.email,
            reason=SuppressionReason.unsubscribed,
            source="api",
        )
    )
    session.commit()


def _enrolled(session: Session, seq: Sequence) -> list[tuple[int | None, str]]:
    session.expire_all()
    rows = session.scalars(
        select(Enrollment).where(Enrollment.sequence_id == seq.id).order_by(Enrollment.id)
    )
    return [(e.lead_id, e.enrolled_by) for e in rows]


def _reasons(scope: Scope, seq: Sequence, leads: list[Lead], now: dt.datetime) -> list[Any]:
    return [v.reason for v in service.preview(scope, seq, [lead.id for lead in leads], now)]


def test_a_lead_entering_the_segment_is_enrolled_once(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    seq = _sequence(scope, admin)
    _segment_trigger(scope, admin, seq)
    cfo, ceo = LeadFactory(owner=admin, title="CFO"), LeadFactory(owner=admin, title="CEO")
    assert run_triggers(db, T0 + MINUTE) == 1
    assert run_triggers(db, T0 + MINUTE) == 0  # the same tick replayed
    assert run_triggers(db, T0 + 2 * MINUTE) == 0  # and the next
    assert _enrolled(session, seq) == [(cfo.id, "trigger: in a segment")]
    (enrollment,) = session.scalars(select(Enrollment).where(Enrollment.sequence_id == seq.id))
    history = session.scalars(
        select(EnrollmentEvent.detail).where(EnrollmentEvent.enrollment_id == enrollment.id)
    ).all()
    assert history == ["by trigger: in a segment"]
    _title(session, ceo, "CFO")  # enters the segment
    assert run_triggers(db, T0 + 3 * MINUTE) == 1
    assert [lead for lead, _ in _enrolled(session, seq)] == [cfo.id, ceo.id]


def test_leaving_and_re_entering_the_segment_follows_the_re_enroll_setting(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    never = _sequence(scope, admin, exclusive=False)
    weekly = _sequence(scope, admin, exclusive=False, reenroll_after_days=7)
    for seq in (never, weekly):
        _segment_trigger(scope, admin, seq)
    lead = LeadFactory(owner=admin, title="CFO")
    assert run_triggers(db, T0 + MINUTE) == 2
    for enrollment in session.scalars(select(Enrollment)).all():
        service.unenroll(scope, enrollment, admin, T0 + DAY)
    session.commit()
    _title(session, lead, "CEO")  # leaves
    assert run_triggers(db, T0 + 2 * DAY) == 0
    _title(session, lead, "CFO")  # and comes back three days after it ended
    assert run_triggers(db, T0 + 4 * DAY) == 0
    assert _reasons(scope, never, [lead], T0 + 4 * DAY) == ["already went through this sequence"]
    assert _reasons(scope, weekly, [lead], T0 + 4 * DAY) == [
        "went through this sequence; again from 2026-12-01"
    ]
    assert run_triggers(db, T0 + 8 * DAY + MINUTE) == 1  # a week after it ended: again
    assert len(_enrolled(session, weekly)) == 2
    assert len(_enrolled(session, never)) == 1
    assert run_triggers(db, T0 + 9 * DAY) == 0  # in it again: once


def test_the_suppressed_and_those_in_another_sequence_are_left_out_saying_why(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    first = _sequence(scope, admin)
    seq = _sequence(scope, admin)
    _segment_trigger(scope, admin, seq)
    busy, gone, fine = (LeadFactory(owner=admin, title="CFO") for _ in range(3))
    service.enroll(scope, first, [busy.id], T0, by="test")
    session.commit()
    _suppress(session, gone)
    assert run_triggers(db, T0 + MINUTE) == 1
    assert _enrolled(session, seq) == [(fine.id, "trigger: in a segment")]
    assert _reasons(scope, seq, [busy, gone], T0 + MINUTE) == [
        f"in another sequence: {first.name}",
        "suppressed (unsubscribed)",
    ]


def test_leads_refused_for_a_while_hold_up_nobody_behind_them(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    seq = _sequence(scope, admin)
    _segment_trigger(scope, admin, seq)
    refused = [LeadFactory(owner=admin, title="CFO") for _ in range(3)]
    for lead in refused:
        _suppress(session, lead)
    behind = [LeadFactory(owner=admin, title="CFO") for _ in range(2)]
    # two leads a tick: the suppressed ones come first, and are passed over
    enrolled = [run_triggers(db, T0 + n * MINUTE, limit=2) for n in range(1, 5)]
    assert sum(enrolled) == 2
    assert sorted(lead for lead, _ in _enrolled(session, seq)) == [b.id for b in behind]


def test_a_new_inbound_lead_is_enrolled_once_and_the_others_are_told_apart(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    earlier = LeadFactory(owner=admin)
    ActivityFactory(lead=earlier, kind=ActivityKind.inquiry, at=T0 - MINUTE)
    other = _sequence(scope, admin)
    seq = _sequence(scope, admin)
    service.add_trigger(scope, seq, TriggerKind.inbound, {}, T0)
    session.commit()
    new, busy, gone = (LeadFactory(owner=admin) for _ in range(3))
    service.enroll(scope, other, [busy.id], T0, by="test")
    _suppress(session, gone)
    for lead in (new, busy, gone):
        ActivityFactory(lead=session.get_one(Lead, lead.id), kind=ActivityKind.inquiry, at=T0)
    session.commit()
    assert run_triggers(db, T0 + MINUTE) == 1
    assert run_triggers(db, T0 + MINUTE) == 0  # replayed
    ActivityFactory(lead=session.get_one(Lead, new.id), kind=ActivityKind.inquiry, at=T0 + DAY)
    session.commit()
    assert run_triggers(db, T0 + DAY + MINUTE) == 0  # a second inquiry: in it already
    assert _enrolled(session, seq) == [(new.id, "trigger: new inbound lead")]  # not earlier
    assert _reasons(scope, seq, [new, busy, gone], T0 + DAY) == [
        "already in this sequence",
        f"in another sequence: {other.name}",
        "suppressed (unsubscribed)",
    ]


def test_a_segment_whose_filter_broke_stops_no_other_trigger(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    by_segment = _sequence(scope, admin, exclusive=False)
    segment = _segment_trigger(scope, admin, by_segment)
    inbound = _sequence(scope, admin, exclusive=False)
    service.add_trigger(scope, inbound, TriggerKind.inbound, {}, T0)
    session.get_one(Segment, segment.id).filter = {"field": "no such field", "op": "is"}
    session.commit()
    lead = LeadFactory(owner=admin, title="CFO")
    ActivityFactory(lead=session.get_one(Lead, lead.id), kind=ActivityKind.inquiry, at=T0)
    session.commit()
    assert run_triggers(db, T0 + MINUTE) == 1
    assert _enrolled(session, by_segment) == []
    assert _enrolled(session, inbound) == [(lead.id, "trigger: new inbound lead")]


def test_a_lead_a_trigger_refused_says_why_on_its_page_until_it_is_enrolled(
    session: Session, db: Database, scope: Scope, admin: Member, client: FlaskClient
) -> None:
    first = _sequence(scope, admin)
    seq = _sequence(scope, admin)
    _segment_trigger(scope, admin, seq)
    busy, gone = (LeadFactory(owner=admin, title="CFO") for _ in range(2))
    (held,) = service.enroll(scope, first, [busy.id], T0, by="test").enrolled
    session.commit()
    _suppress(session, gone)
    for n in (1, 2, 3):  # refused each round, kept once, since the first
        assert run_triggers(db, T0 + n * MINUTE) == 0
    session.expire_all()
    kept = session.scalars(select(Refusal).order_by(Refusal.lead_id)).all()
    assert [(r.lead_id, r.reason, r.by, r.since) for r in kept] == [
        (busy.id, f"in another sequence: {first.name}", "trigger: in a segment", T0 + MINUTE),
        (gone.id, "suppressed (unsubscribed)", "trigger: in a segment", T0 + MINUTE),
    ]
    page = sign_in(client, admin).get(f"/leads/{busy.id}").text
    assert f"Not enrolled in {seq.name} by its trigger: in a segment" in page
    assert f"in another sequence: {first.name}" in page
    # Out of the other sequence, the trigger enrolls it and the refusal is gone.
    service.unenroll(scope, session.get_one(Enrollment, held), admin, T0 + 4 * MINUTE)
    session.commit()
    assert run_triggers(db, T0 + 5 * MINUTE) == 1
    session.expire_all()
    assert [r.lead_id for r in session.scalars(select(Refusal))] == [gone.id]
    assert "Not enrolled in" not in client.get(f"/leads/{busy.id}").text
