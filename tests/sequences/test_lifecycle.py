"""Enrollments over their life, on the database with an injected clock: pause and resume
without a burst, steps edited while live (a removed step is never sent), a task holding
the sequence until the owner is done, a template failing for one lead, a lead removed
mid-sequence, two enrollers at once, stage moves, and re-engagement of cold leads (on by
default: enrolled when cold, re-warmed on a reply, moved to Nurture on no response)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.db import Database
from inboxcrm.leads.junk import remove_leads
from inboxcrm.leads.models import ActivityKind, Lead, Temperature
from inboxcrm.leads.moves import move_lead
from inboxcrm.notifications.models import NoticeKind, Notification
from inboxcrm.outbox.models import Send, SendState
from inboxcrm.scoring.models import TemperatureChange
from inboxcrm.sequences import service
from inboxcrm.sequences.advance import advance_enrollments
from inboxcrm.sequences.exits import Exit, exit_enrollments
from inboxcrm.sequences.models import (
    Enrollment,
    EnrollmentEvent,
    EnrollmentState,
    ExitReason,
    Outcome,
    Sequence,
    Task,
    TriggerKind,
)
from inboxcrm.sequences.stats import reengagement_report
from inboxcrm.sequences.triggers import DEFAULT_NAME, run_triggers
from inboxcrm.stages.models import ChangeSource, Stage, StageKind
from inboxcrm.tenancy import Scope
from tests.factories import ActivityFactory, LeadFactory
from tests.support.sequences import T0, new_sequence, template_version

DAY = dt.timedelta(days=1)


def _three(scope: Scope, admin: Member) -> list[dict[str, Any]]:
    return [
        {"kind": "email", "template_version_id": template_version(scope, admin, "One")},
        {"kind": "wait", "wait_amount": 1, "wait_unit": "days"},
        {"kind": "email", "template_version_id": template_version(scope, admin, "Two")},
        {"kind": "wait", "wait_amount": 1, "wait_unit": "days"},
        {"kind": "email", "template_version_id": template_version(scope, admin, "Three")},
    ]


def _sent(session: Session) -> list[tuple[str, str]]:
    """The step sends planned so far, as (source id, subject); marked sent at once."""
    session.expire_all()
    rows = session.scalars(select(Send).order_by(Send.id)).all()
    for send in rows:
        if send.state is SendState.planned and send.due_at is not None:
            send.state, send.sent_at, send.due_at = SendState.sent, send.planned_at, None
    session.commit()
    return [(s.source_id, s.subject) for s in rows]


def _events(session: Session, enrollment_id: int) -> list[str]:
    return [
        f"{e.kind.value}:{e.detail}"
        for e in session.scalars(
            select(EnrollmentEvent)
            .where(EnrollmentEvent.enrollment_id == enrollment_id)
            .order_by(EnrollmentEvent.id)
        )
    ]


def test_pause_holds_everything_and_resume_spreads_what_fell_due(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    seq = new_sequence(scope, admin, _three(scope, admin))
    leads = [LeadFactory(owner=admin) for _ in range(10)]
    service.enroll(scope, seq, [lead.id for lead in leads], T0, by="test")
    session.commit()
    advance_enrollments(db, T0)
    assert len(_sent(session)) == 10
    service.pause(scope, admin, seq, T0 + dt.timedelta(hours=1))
    session.commit()
    assert advance_enrollments(db, T0 + 5 * DAY).enrollments == 0  # nothing advances
    resume_at = T0 + 5 * DAY
    assert service.resume(scope, admin, seq, resume_at) == 10
    session.commit()
    next_at = sorted(e.next_at for e in session.scalars(select(Enrollment)) if e.next_at)
    assert next_at[0] == resume_at
    assert next_at[-1] < resume_at + service.RESUME_SPREAD  # spread, not all at once
    assert len(set(next_at)) == 10
    done = advance_enrollments(db, resume_at)
    assert done.planned == 1  # only the first of the ten is due at once
    advance_enrollments(db, resume_at + service.RESUME_SPREAD)
    assert len(_sent(session)) == 20  # each step once, nothing sent twice


def test_a_step_removed_while_live_is_skipped_never_sent(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    steps = _three(scope, admin)
    seq = new_sequence(scope, admin, steps)
    lead = LeadFactory(owner=admin)
    (enrollment_id,) = service.enroll(scope, seq, [lead.id], T0, by="test").enrolled
    session.commit()
    advance_enrollments(db, T0)
    assert [s for _, s in _sent(session)] == ["One"]
    advance_enrollments(db, T0 + dt.timedelta(minutes=30))  # now waiting at step 2
    live = [{"id": s.id, **spec} for s, spec in zip(seq.live_steps, steps, strict=True)]
    # remove the wait it is at and the second email: it goes on from the next kept step
    service.update_sequence(scope, admin, seq, T0 + DAY, steps=[live[0], live[3], live[4]])
    session.commit()
    advance_enrollments(db, T0 + DAY)
    advance_enrollments(db, T0 + 3 * DAY)
    assert [s for _, s in _sent(session)] == ["One", "Three"]
    enrollment = session.get_one(Enrollment, enrollment_id)
    assert enrollment.state is EnrollmentState.finished
    assert service.live_enrollments(scope, lead.id) == []


def test_a_task_holds_the_sequence_until_the_owner_is_done(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    seq = new_sequence(
        scope,
        admin,
        [
            {"kind": "task", "task": "Call Ana"},
            {
                "kind": "email",
                "template_version_id": template_version(scope, admin, "After the call"),
            },
        ],
    )
    lead = LeadFactory(owner=admin, name="Ana Lima")
    service.enroll(scope, seq, [lead.id], T0, by="test")
    session.commit()
    assert advance_enrollments(db, T0).tasks == 1
    task = session.scalars(select(Task)).one()
    assert (task.text, task.member_id, task.lead_id) == ("Call Ana", admin.id, lead.id)
    notice = session.scalars(select(Notification)).one()
    assert notice.kind is NoticeKind.task
    advance_enrollments(db, T0 + 7 * DAY)
    assert _sent(session) == []  # still waiting for the owner
    service.finish_task(scope, admin, task.id, T0 + 8 * DAY)
    session.commit()
    advance_enrollments(db, T0 + 8 * DAY)
    assert [s for _, s in _sent(session)] == ["After the call"]


def test_a_template_failing_for_one_lead_skips_its_step_with_the_reason(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    seq = new_sequence(
        scope,
        admin,
        [
            {
                "kind": "email",
                "template_version_id": template_version(scope, admin, "T", "As {{ lead.title }}"),
            },
        ],
    )
    with_title = LeadFactory(owner=admin, title="CFO")
    without = LeadFactory(owner=admin)
    made = service.enroll(scope, seq, [with_title.id, without.id], T0, by="test").enrolled
    session.commit()
    assert advance_enrollments(db, T0).skipped == 1
    assert len(_sent(session)) == 1
    assert _events(session, made[1])[-2].startswith(
        "skipped:template error: body line 1: lead.title is missing"
    )


def test_a_lead_removed_or_moved_to_won_leaves_with_the_reason(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    run_triggers(db, T0)  # the clock has looked before: it reads what happens from now on
    seq = new_sequence(scope, admin, _three(scope, admin))
    junked, won = LeadFactory(owner=admin), LeadFactory(owner=admin)
    made = service.enroll(scope, seq, [junked.id, won.id], T0, by="test").enrolled
    session.commit()
    advance_enrollments(db, T0)
    remove_leads(scope, [junked], T0)
    stage = session.scalars(
        select(Stage).where(Stage.workspace_id == admin.workspace_id, Stage.kind == StageKind.won)
    ).first()
    assert stage is not None
    move_lead(scope, session.get_one(Lead, won.id), stage, source=ChangeSource.member, now=T0)
    session.commit()
    run_triggers(db, T0 + dt.timedelta(minutes=1))  # stage moves are read at once
    session.expire_all()
    assert session.get_one(Enrollment, made[1]).exit_reason is ExitReason.stage
    advance_enrollments(db, T0 + 2 * DAY)
    session.expire_all()
    assert session.get_one(Enrollment, made[0]).exit_reason is ExitReason.removed
    assert len(_sent(session)) == 2  # the first emails only


def test_two_enrollers_at_once_enroll_a_lead_once(
    session: Session, scope: Scope, admin: Member
) -> None:
    seq = new_sequence(scope, admin, _three(scope, admin))
    lead = LeadFactory(owner=admin)
    first = service.enroll(scope, seq, [lead.id, lead.id], T0, by="trigger")
    second = service.enroll(scope, seq, [lead.id], T0, by="manual")
    session.commit()
    assert len(first.enrolled) == 1
    assert second.enrolled == []
    assert session.scalar(select(func.count()).select_from(Enrollment)) == 1


def _turn_cold(session: Session, lead: Lead, at: dt.datetime) -> None:
    row = session.get_one(Lead, lead.id)
    row.temperature = Temperature.cold
    session.add(
        TemperatureChange(
            workspace_id=lead.workspace_id,
            lead_id=lead.id,
            from_temperature=Temperature.warm,
            to_temperature=Temperature.cold,
            changed_at=at,
        )
    )
    session.commit()


def test_cold_leads_are_re_engaged_by_default_and_the_outcome_recorded(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    run_triggers(db, T0)  # the policy and its default sequence, on
    reengage = session.scalars(select(Sequence).where(Sequence.name == DEFAULT_NAME)).one()
    assert reengage.reengagement
    comes_back, silent, lost = (LeadFactory(owner=admin) for _ in range(3))
    lost_stage = session.scalars(
        select(Stage).where(Stage.workspace_id == admin.workspace_id, Stage.kind == StageKind.lost)
    ).one()
    session.get_one(Lead, lost.id).stage_id = lost_stage.id
    for lead in (comes_back, silent, lost):
        _turn_cold(session, lead, T0)
    assert run_triggers(db, T0 + dt.timedelta(minutes=1)) == 2  # not the lost one
    assert run_triggers(db, T0 + dt.timedelta(minutes=2)) == 0  # read once
    advance_enrollments(db, T0 + dt.timedelta(minutes=2))
    assert len(_sent(session)) == 2
    back = session.scalars(select(Enrollment).where(Enrollment.lead_id == comes_back.id)).one()
    ActivityFactory(lead=session.get_one(Lead, comes_back.id), kind=ActivityKind.reply, at=T0 + DAY)
    exit_enrollments(session, admin.workspace_id, [Exit(back.id, ExitReason.replied)], T0 + DAY)
    session.commit()
    session.refresh(back)
    assert back.outcome is Outcome.rewarmed
    assert (
        session.scalars(select(Notification).where(Notification.kind == NoticeKind.rewarmed))
        .one()
        .member_id
        == admin.id
    )
    for days in range(1, 40):
        advance_enrollments(db, T0 + days * DAY)
        _sent(session)
    quiet = session.scalars(select(Enrollment).where(Enrollment.lead_id == silent.id)).one()
    assert (quiet.state, quiet.outcome) == (EnrollmentState.finished, Outcome.no_response)
    assert session.get_one(Lead, silent.id).stage.kind is StageKind.nurture
    subjects = [s for _, s in _sent(session)]
    assert len(subjects) == 4  # three for the silent lead, one before the other came back
    report = reengagement_report(scope, T0 - DAY)
    assert (
        report["went_cold"],
        report["reengaged"],
        report["came_back"],
        report["no_response"],
    ) == (3, 2, 1, 1)


def test_triggers_enroll_on_their_own_once(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    run_triggers(db, T0)
    stages = {
        s.name: s
        for s in session.scalars(select(Stage).where(Stage.workspace_id == admin.workspace_id))
    }
    by_stage = new_sequence(scope, admin, _three(scope, admin))
    by_score = new_sequence(scope, admin, _three(scope, admin), exclusive=False)
    early = LeadFactory(owner=admin)
    move_lead(
        scope, session.get_one(Lead, early.id), stages["SQL"], source=ChangeSource.member, now=T0
    )
    session.commit()
    service.add_trigger(scope, by_stage, TriggerKind.stage, {"stage_id": stages["SQL"].id}, T0)
    service.add_trigger(scope, by_score, TriggerKind.score, {"score": 50}, T0)
    session.commit()
    moved, high, low = (LeadFactory(owner=admin) for _ in range(3))
    move_lead(
        scope,
        session.get_one(Lead, moved.id),
        stages["SQL"],
        source=ChangeSource.member,
        now=T0 + DAY,
    )
    session.get_one(Lead, high.id).score = 60
    session.get_one(Lead, low.id).score = 10
    session.commit()
    assert run_triggers(db, T0 + DAY) == 2
    assert run_triggers(db, T0 + 2 * DAY) == 0  # a tick run again enrolls nobody twice
    enrolled = {
        (e.sequence_id, e.lead_id, e.enrolled_by) for e in session.scalars(select(Enrollment))
    }
    assert enrolled == {
        (by_stage.id, moved.id, "trigger: entered a stage"),  # not the lead moved before
        (by_score.id, high.id, "trigger: score reached 50"),
    }


def test_a_reply_from_anyone_at_the_company_ends_it_when_the_sequence_says_so(
    session: Session, db: Database, scope: Scope, admin: Member
) -> None:
    from inboxcrm.sequences.exits import _company_exits

    seq = new_sequence(scope, admin, _three(scope, admin), exit_on_company_reply=True)
    ana = LeadFactory(owner=admin, company="Acme", email="ana@acme.example")
    bob = LeadFactory(owner=admin, company="Acme", email="bob@acme.example")
    (enrollment_id,) = service.enroll(scope, seq, [ana.id], T0, by="test").enrolled
    session.commit()
    exits = _company_exits(
        session, admin.workspace_id, [(bob.id, ActivityKind.reply, T0 + DAY, {})]
    )
    assert exits == [Exit(enrollment_id, ExitReason.company_replied)]
    assert (
        _company_exits(session, admin.workspace_id, [(bob.id, ActivityKind.reply, T0 - DAY, {})])
        == []
    )


def test_going_through_again_follows_the_re_enroll_setting(
    session: Session, scope: Scope, admin: Member
) -> None:
    never = new_sequence(scope, admin, _three(scope, admin))
    weekly = new_sequence(scope, admin, _three(scope, admin), reenroll_after_days=7)
    lead = LeadFactory(owner=admin)
    for seq in (never, weekly):
        (made,) = service.enroll(scope, seq, [lead.id], T0, by="test").enrolled
        service.unenroll(scope, session.get_one(Enrollment, made), admin, T0)
    session.commit()
    (verdict,) = service.preview(scope, never, [lead.id], T0 + 30 * DAY)
    assert verdict.reason == "already went through this sequence"
    (verdict,) = service.preview(scope, weekly, [lead.id], T0 + DAY)
    assert verdict.reason == "went through this sequence; again from 2026-11-30"
    (verdict,) = service.preview(scope, weekly, [lead.id], T0 + 8 * DAY)
    assert verdict.reason is None
