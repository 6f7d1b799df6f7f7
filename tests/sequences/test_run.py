"""A sequence running against the sandbox Google with an injected clock: three steps over
simulated weeks, the follow-up in the first email's thread, a reply stopping the next
step even seconds before it is due, an out-of-office postponing to the right day, and a
replayed tick planning nothing twice."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from inboxcrm.db import utcnow
from inboxcrm.mail.models import Message
from inboxcrm.mail.steps import SyncSteps
from inboxcrm.outbox.models import Send, SendState, SkipReason
from inboxcrm.sequences import stats
from inboxcrm.sequences.exits import sequence_exits
from inboxcrm.sequences.models import EnrollmentState, ExitReason
from inboxcrm.setup import SYNC_STEPS
from tests.support import sequences as seq
from tests.support.mail import raw_eml
from tests.support.outbox import Outbox
from tests.support.sandbox import AVA, deliver

pytestmark = pytest.mark.google
DAY = dt.timedelta(days=1)


def test_three_steps_over_weeks_follow_up_in_the_same_thread(outbox: Outbox) -> None:
    lead = outbox.lead(name="Ana Lima")
    sequence = seq.sequence(outbox)
    t0 = utcnow()
    enrollment = seq.enrolled(outbox, sequence, lead, t0)
    assert seq.advance(outbox, t0).planned == 1
    assert seq.advance(outbox, t0).planned == 0  # a tick run twice plans nothing more
    assert seq.dispatch(outbox, t0).sent == 1
    first = seq.sends(outbox)[0]
    assert first.subject == "Quick question"
    assert "Hi Ana" in first.body_text
    seq.advance(outbox, t0 + dt.timedelta(hours=1))
    assert len(seq.sends(outbox)) == 1  # waiting three days from the send
    seq.advance(outbox, t0 + 3 * DAY + dt.timedelta(minutes=1))
    follow = seq.sends(outbox)[1]
    assert follow.subject == "Quick question"  # the same subject, no hand-made "Re:"
    assert follow.gmail_thread_hint == first.gmail_thread_id
    assert follow.in_reply_to == first.message_id
    assert seq.dispatch(outbox, t0 + 3 * DAY + dt.timedelta(minutes=2)).sent == 1
    sent = outbox.sent()
    assert sent[1]["threadId"] == sent[0]["threadId"]
    seq.advance(outbox, t0 + 5 * DAY + dt.timedelta(minutes=5))
    seq.dispatch(outbox, t0 + 5 * DAY + dt.timedelta(minutes=6))
    assert [s.subject for s in seq.sends(outbox)] == ["Quick question"] * 2 + ["Last note"]
    assert all(s.state is SendState.sent for s in seq.sends(outbox))
    outbox.session.refresh(enrollment)
    assert enrollment.state is EnrollmentState.finished
    assert seq.advance(outbox, t0 + 30 * DAY).enrollments == 0
    assert len(outbox.sent()) == 3
    assert seq.history(outbox, enrollment)[0] == "enrolled: by test"
    assert seq.history(outbox, enrollment)[-1] == "finished"


def first_thread(outbox: Outbox, send: Send) -> int:
    """The thread the sync filed our email in (the reply is in it too)."""
    return outbox.session.scalars(
        select(Message.thread_id).where(Message.rfc_message_id == send.message_id)
    ).one()


def _first_sent(outbox: Outbox, t0: dt.datetime) -> None:
    seq.advance(outbox, t0)
    assert seq.dispatch(outbox, t0).sent == 1


def test_a_reply_seconds_before_step_two_is_due_stops_it(outbox: Outbox) -> None:
    lead = outbox.lead(name="Ana Lima")
    sequence = seq.sequence(outbox)
    t0 = utcnow()
    enrollment = seq.enrolled(outbox, sequence, lead, t0)
    _first_sent(outbox, t0)
    due = t0 + 3 * DAY + dt.timedelta(minutes=1)
    seq.advance(outbox, due)  # step 2 planned: its Send waits for the dispatcher
    first, second = seq.sends(outbox)
    assert second.state is SendState.planned
    seq.reply(outbox, first, utcnow())  # the reply arrives seconds before it goes
    seq.sync(outbox)
    outbox.session.refresh(enrollment)
    assert enrollment.state is EnrollmentState.exited
    assert enrollment.exit_reason is ExitReason.replied
    assert seq.dispatch(outbox, due + dt.timedelta(seconds=5)).sent == 0
    second = outbox.refresh(second)
    assert (second.state, second.reason) == (SendState.skipped, SkipReason.exited)
    assert len(outbox.sent()) == 1
    assert seq.history(outbox, enrollment)[-1] == "exited: replied"
    results = stats.results(seq.scope(outbox), sequence)
    assert results["exited"] == {"replied": 1}
    step1 = results["steps"][0]
    assert (step1["sent"], step1["replied"], step1["reply_rate"]) == (1, 1, 1.0)
    assert step1["reply_threads"] == [first_thread(outbox, first)]


def test_a_reply_synced_before_the_exit_step_still_stops_the_send(outbox: Outbox) -> None:
    """The check at send time: the reply is stored (here by a sync without the exit
    step), the planned follow-up is skipped when the dispatcher takes it."""
    lead = outbox.lead()
    sequence = seq.sequence(outbox)
    t0 = utcnow()
    seq.enrolled(outbox, sequence, lead, t0)
    _first_sent(outbox, t0)
    due = t0 + 3 * DAY + dt.timedelta(minutes=1)
    seq.advance(outbox, due)
    first, second = seq.sends(outbox)
    seq.reply(outbox, first, utcnow())
    without_exits = SyncSteps(
        SYNC_STEPS.prepare, tuple(s for s in SYNC_STEPS.batch if s is not sequence_exits)
    )
    seq.sync(outbox, without_exits)
    assert seq.dispatch(outbox, due).skipped == 1
    second = outbox.refresh(second)
    assert (second.state, second.reason) == (SendState.skipped, SkipReason.exited)
    assert len(outbox.sent()) == 1


def test_an_out_of_office_postpones_to_the_day_after_the_return_date(outbox: Outbox) -> None:
    lead = outbox.lead(name="Ana Lima")
    sequence = seq.sequence(outbox)
    t0 = utcnow()
    enrollment = seq.enrolled(outbox, sequence, lead, t0)
    _first_sent(outbox, t0)
    first = seq.sends(outbox)[0]
    back = (t0 + 10 * DAY).date()
    deliver(
        outbox.control,
        AVA,
        raw_eml(
            f"From: {lead.email}",
            f"To: {AVA}",
            f"Subject: Automatic reply: {first.subject}",
            "Auto-Submitted: auto-replied",
            f"In-Reply-To: {first.message_id}",
            "Message-ID: <ooo1@customer.example>",
            f"Date: {utcnow().strftime('%a, %d %b %Y %H:%M:%S +0000')}",
            body=f"I am out of the office until {back.isoformat()}.",
        ),
    )
    seq.sync(outbox)
    outbox.session.refresh(enrollment)
    assert enrollment.state is EnrollmentState.active  # not a reply
    day_after = dt.datetime.combine(back + DAY, dt.time(0), dt.UTC)
    assert enrollment.next_at == day_after
    assert f"postponed: out of office: next step from {(back + DAY).isoformat()}" in (
        seq.history(outbox, enrollment)
    )
    seq.advance(outbox, t0 + 5 * DAY)  # the wait has passed, but the lead is away
    assert len(seq.sends(outbox)) == 1
    seq.advance(outbox, day_after + dt.timedelta(minutes=1))
    assert len(seq.sends(outbox)) == 2
