"""Advancing an enrollment, without a database: waits counted from the email that went,
emails planned once and the enrollment moved past them, conditions on the previous email,
tasks that hold the sequence, and steps that cannot be saved."""

from __future__ import annotations

import datetime as dt

from inboxcrm.sequences.models import Condition, StepKind, Threading, WaitUnit
from inboxcrm.sequences.plan import (
    SETTLE,
    Facts,
    LastEmail,
    StepPlan,
    add_wait,
    advance,
    problems,
)

MON = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)  # a Monday
EMAIL1 = StepPlan(1, StepKind.email, template_version_id=10)
WAIT = StepPlan(2, StepKind.wait, wait_amount=3, wait_unit=WaitUnit.days)
EMAIL2 = StepPlan(3, StepKind.email, template_version_id=11, threading=Threading.follow_up)
STEPS = (EMAIL1, WAIT, EMAIL2)


def test_the_first_email_is_planned_and_the_enrollment_moves_to_the_wait() -> None:
    done = advance(Facts(1, MON), STEPS, MON)
    assert done.email is not None
    assert done.email.step == EMAIL1
    assert not done.email.follow_up
    assert (done.step_id, done.next_at) == (2, MON + SETTLE)


def test_a_wait_counts_from_when_the_previous_email_was_sent() -> None:
    sent = MON + dt.timedelta(hours=5)
    last = LastEmail(1, pending=False, sent_at=sent)
    done = advance(Facts(2, MON), STEPS, MON + dt.timedelta(hours=6))
    assert done.next_at == MON + dt.timedelta(days=3)  # no email known: from the step
    done = advance(Facts(2, MON, last), STEPS, MON + dt.timedelta(hours=6))
    assert done.email is None
    assert (done.step_id, done.next_at) == (2, sent + dt.timedelta(days=3))


def test_an_email_not_gone_yet_holds_the_wait_until_it_has() -> None:
    last = LastEmail(1, pending=True, sent_at=None, due_at=MON + dt.timedelta(days=2))
    done = advance(Facts(2, MON, last), STEPS, MON + dt.timedelta(hours=1))
    assert done.email is None
    assert done.next_at == MON + dt.timedelta(days=2) + SETTLE


def test_past_the_wait_the_follow_up_is_planned_in_the_same_thread_and_finishes() -> None:
    last = LastEmail(1, pending=False, sent_at=MON)
    done = advance(Facts(2, MON, last), STEPS, MON + dt.timedelta(days=3, minutes=1))
    assert done.waited == [2]
    assert done.email is not None
    assert done.email.step == EMAIL2
    assert done.email.follow_up
    assert done.finished
    assert done.next_at is None
    assert done.step_id is None


def test_a_follow_up_after_an_email_that_never_went_starts_a_new_thread() -> None:
    last = LastEmail(1, pending=False, sent_at=None)
    done = advance(Facts(3, MON, last), STEPS, MON)
    assert done.email is not None
    assert not done.email.follow_up


def test_a_condition_on_the_previous_email_skips_the_step_with_the_reason() -> None:
    only_if_opened = StepPlan(3, StepKind.email, template_version_id=11, condition=Condition.opened)
    steps = (EMAIL1, WAIT, only_if_opened, StepPlan(4, StepKind.task, task="Call Ana"))
    unopened = LastEmail(1, pending=False, sent_at=MON)
    done = advance(Facts(3, MON, unopened), steps, MON)
    assert done.email is None
    assert done.skipped == [(3, "the condition (opened) was not met")]
    assert done.task is not None
    assert done.task.task == "Call Ana"
    assert (done.step_id, done.next_at) == (4, None)  # waiting for the owner
    opened = LastEmail(1, pending=False, sent_at=MON, opened=True)
    assert advance(Facts(3, MON, opened), steps, MON).email is not None


def test_a_removed_step_or_the_end_finishes_the_enrollment() -> None:
    assert advance(Facts(None, MON), STEPS, MON).finished
    assert advance(Facts(99, MON), STEPS, MON).finished


def test_business_days_skip_the_weekend() -> None:
    friday = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)
    assert add_wait(friday, 1, WaitUnit.business_days) == friday + dt.timedelta(days=3)
    assert add_wait(friday, 2, WaitUnit.hours) == friday + dt.timedelta(hours=2)


def test_bad_steps_are_refused_with_what_to_fix() -> None:
    assert problems([]) == ["a sequence needs at least one step"]
    zero = StepPlan(2, StepKind.wait, wait_amount=0, wait_unit=WaitUnit.days)
    decade = StepPlan(2, StepKind.wait, wait_amount=3650, wait_unit=WaitUnit.days)
    assert "step 2: a wait must be longer than zero" in problems([EMAIL1, zero])
    assert "step 2: a wait can be at most a year" in problems([EMAIL1, decade])
    assert problems([EMAIL2]) == ["step 1: the first email cannot follow up a previous one"]
    no_template = StepPlan(1, StepKind.email)
    assert problems([no_template]) == ["step 1: an email step needs a template"]
    assert problems([StepPlan(1, StepKind.task, task=" ")]) == [
        "a sequence needs at least one email step",
        "step 1: a task needs its text",
    ]
    assert problems(list(STEPS)) == []
