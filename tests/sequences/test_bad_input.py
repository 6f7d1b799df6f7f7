"""The issue's bad input not held elsewhere (no steps, zero and ten-year waits, a condition
with nothing before it: test_api.py and test_plan.py): a template failing for a lead when
the sequence says wait, a lead merged mid-sequence, two triggers enrolling one lead in the
same tick, a step edited while its email waits to go. Each ends in a clear state, nothing
sent twice or after the enrollment ended."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.db import Database
from inboxcrm.leads.merge import merge_leads
from inboxcrm.leads.models import ActivityKind, Lead
from inboxcrm.outbox.checks import Due
from inboxcrm.outbox.models import Send, SkipReason, SourceKind
from inboxcrm.segments.service import create_segment
from inboxcrm.sequences import service
from inboxcrm.sequences.advance import RETRY, advance_enrollments
from inboxcrm.sequences.exits import left_sequence
from inboxcrm.sequences.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentState,
    ExitReason,
    TriggerKind,
)
from inboxcrm.sequences.triggers import run_triggers
from inboxcrm.tenancy import Scope
from tests.factories import ActivityFactory, LeadFactory
from tests.support.sequences import T0, new_sequence, template_version

pytestmark = pytest.mark.db

MINUTE, DAY = dt.timedelta(minutes=1), dt.timedelta(days=1)


def _history(session: Session, enrollment_id: int) -> list[str]:
    return [
        f"{e.kind.value}: {e.detail}"
        for e in session.scalars(
            select(EnrollmentEvent)
            .where(EnrollmentEvent.enrollment_id == enrollment_id)
            .order_by(EnrollmentEvent.id)
        )
    ]


def _step_sends(session: Session) -> list[Send]:
    session.expire_all()
    return list(
        session.scalars(select(Send).where(Send.source_kind == SourceKind.step).order_by(Send.id))
    )


def test_a_template_failing_for_a_lead_waits_for_a_fix_when_the_sequence_says_so(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    version = template_version(scope, admin, "For the {{ lead.title }}")
    seq = new_sequence(
        scope, admin, [{"kind": "email", "template_version_id": version}], on_template_error="wait"
    )
    lead = LeadFactory(owner=admin)
    (enrollment_id,) = service.enroll(scope, seq, [lead.id], T0, by="test").enrolled
    session.commit()
    advance_enrollments(db, T0)
    session.expire_all()
    enrollment = session.get_one(Enrollment, enrollment_id)
    assert (enrollment.state, enrollment.next_at) == (EnrollmentState.active, T0 + RETRY)
    assert _history(session, enrollment_id)[-1].startswith("waited: template error")
    assert _step_sends(session) == []
    session.get_one(Lead, lead.id).title = "CFO"  # the data the template needs, filled in
    session.commit()
    advance_enrollments(db, T0 + RETRY)
    (send,) = _step_sends(session)
    assert send.subject == "For the CFO"
    assert session.get_one(Enrollment, enrollment_id).state is EnrollmentState.finished


def test_a_lead_merged_mid_sequence_gets_no_more_of_it(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    steps = [
        {"kind": "email", "template_version_id": template_version(scope, admin, "One")},
        {"kind": "wait", "wait_amount": 1, "wait_unit": "days"},
        {"kind": "email", "template_version_id": template_version(scope, admin, "Two")},
    ]
    seq = new_sequence(scope, admin, steps)
    keep, other = LeadFactory(owner=admin), LeadFactory(owner=admin)
    (enrollment_id,) = service.enroll(scope, seq, [other.id], T0, by="test").enrolled
    session.commit()
    advance_enrollments(db, T0)  # step 1 planned for the lead merged next
    merge_leads(scope, session.get_one(Lead, keep.id), session.get_one(Lead, other.id), admin, T0)
    session.commit()
    (send,) = _step_sends(session)
    assert send.lead_id == keep.id  # the send followed the merge ...
    kept = session.get_one(Lead, keep.id)
    assert left_sequence(Due(session, send, kept, T0 + MINUTE)) is SkipReason.lead_removed
    advance_enrollments(db, T0 + 2 * DAY)  # ... and the enrollment left at its next turn
    session.expire_all()
    enrollment = session.get_one(Enrollment, enrollment_id)
    assert (enrollment.state, enrollment.exit_reason) == (
        EnrollmentState.exited,
        ExitReason.removed,
    )
    assert len(_step_sends(session)) == 1  # step 2 went to nobody
    assert service.live_enrollments(scope, keep.id) == []


def test_two_triggers_enrolling_one_lead_in_the_same_tick_enroll_it_once(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    run_triggers(db, T0 - DAY)
    seq = new_sequence(
        scope,
        admin,
        [{"kind": "email", "template_version_id": template_version(scope, admin, "Hi")}],
    )
    segment = create_segment(scope, admin, "CFOs", {"field": "title", "op": "is", "value": "CFO"})
    service.add_trigger(scope, seq, TriggerKind.segment, {"segment_id": segment.id}, T0)
    service.add_trigger(scope, seq, TriggerKind.inbound, {}, T0)
    session.commit()
    lead = LeadFactory(owner=admin, title="CFO")
    ActivityFactory(lead=session.get_one(Lead, lead.id), kind=ActivityKind.inquiry, at=T0)
    session.commit()
    assert run_triggers(db, T0 + MINUTE) == 1
    count = select(func.count()).select_from(Enrollment).where(Enrollment.sequence_id == seq.id)
    assert session.scalar(count) == 1


def test_a_step_edited_while_its_email_waits_to_go_is_sent_once(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    steps: list[dict[str, Any]] = [
        {"kind": "email", "template_version_id": template_version(scope, admin, "Before the edit")},
        {"kind": "wait", "wait_amount": 1, "wait_unit": "days"},
        {"kind": "email", "template_version_id": template_version(scope, admin, "Two")},
    ]
    seq = new_sequence(scope, admin, steps)
    lead = LeadFactory(owner=admin)
    service.enroll(scope, seq, [lead.id], T0, by="test")
    session.commit()
    advance_enrollments(db, T0)
    (planned,) = _step_sends(session)
    live = [{"id": s.id, **spec} for s, spec in zip(seq.live_steps, steps, strict=True)]
    live[0]["template_version_id"] = template_version(scope, admin, "After the edit")
    service.update_sequence(scope, admin, seq, T0 + MINUTE, steps=live)
    session.commit()
    for minutes in (11, 30, 60):  # the clock comes back while the email is still due
        advance_enrollments(db, T0 + minutes * MINUTE)
    sends = _step_sends(session)
    assert [(s.id, s.subject) for s in sends] == [(planned.id, "Before the edit")]  # as planned
