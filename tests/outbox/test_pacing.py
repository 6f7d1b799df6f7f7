"""What is checked at send time, and a mailbox's pace: gaps, its cap over a rolling 24
hours, Gmail's sending limit pausing it, send windows re-planning what is due."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from inboxcrm.db import utcnow
from inboxcrm.leads.models import LeadEmail
from inboxcrm.outbox import pacing
from inboxcrm.outbox.checks import CHECKS, Due
from inboxcrm.outbox.dispatch import dispatch_due
from inboxcrm.outbox.models import (
    MailboxSending,
    SendState,
    SkipReason,
    SourceKind,
    SuppressionReason,
)
from inboxcrm.outbox.suppression import Suppress, suppress
from inboxcrm.outbox.windows import WORKING_HOURS
from inboxcrm.stages.models import Stage, StageKind
from tests.support.outbox import Outbox

pytestmark = pytest.mark.google


def _slot(outbox: Outbox) -> MailboxSending:
    outbox.session.expire_all()
    return outbox.session.scalars(select(MailboxSending)).one()


def test_a_bouncing_address_is_skipped_at_send_time(outbox: Outbox) -> None:
    lead = outbox.lead()
    send = outbox.plan(lead)
    address = outbox.session.scalars(select(LeadEmail).where(LeadEmail.lead_id == lead.id)).one()
    address.bouncing_at, address.bounce_reason = utcnow(), "userunknown"  # bounced since planning
    outbox.session.commit()
    assert dispatch_due(outbox.runtime, utcnow()).skipped == 1
    send = outbox.refresh(send)
    assert (send.state, send.reason) == (SendState.skipped, SkipReason.bouncing)
    assert send.due_at is None
    assert outbox.sent() == []


@pytest.mark.parametrize(
    ("reason", "oneoff_goes"),
    [
        (SuppressionReason.unsubscribed, True),  # a rep may still answer the person
        (SuppressionReason.hard_bounce, False),
        (SuppressionReason.manual, False),
    ],
)
def test_a_suppressed_address_is_skipped_at_send_time(
    outbox: Outbox, reason: SuppressionReason, oneoff_goes: bool
) -> None:
    lead = outbox.lead()
    campaign = outbox.plan(lead)
    oneoff = outbox.plan(lead, kind=SourceKind.oneoff)
    suppress(outbox.session, lead.workspace_id, [Suppress(lead.email, reason, "test")], utcnow())
    outbox.session.commit()  # suppressed after planning: the check is at send time
    now = utcnow()
    dispatch_due(outbox.runtime, now)
    dispatch_due(outbox.runtime, now + dt.timedelta(seconds=91))
    campaign = outbox.refresh(campaign)
    assert (campaign.state, campaign.reason) == (SendState.skipped, SkipReason.suppressed)
    assert (outbox.refresh(oneoff).state is SendState.sent) is oneoff_goes
    assert len(outbox.sent()) == int(oneoff_goes)


def test_a_domain_suppression_stops_every_address_at_it(outbox: Outbox) -> None:
    lead = outbox.lead("ana@blocked-corp.example")
    send = outbox.plan(lead)
    wanted = [Suppress("@blocked-corp.example", SuppressionReason.manual, "test")]
    suppress(outbox.session, lead.workspace_id, wanted, utcnow())
    outbox.session.commit()
    dispatch_due(outbox.runtime, utcnow())
    assert outbox.refresh(send).reason is SkipReason.suppressed
    assert outbox.sent() == []


def test_a_lost_lead_gets_no_campaign_mail_but_a_reps_own_email(outbox: Outbox) -> None:
    lead = outbox.lead()
    lost = outbox.session.scalars(select(Stage).where(Stage.kind == StageKind.lost)).first()
    assert lost is not None
    lead.stage_id = lost.id
    outbox.session.commit()
    campaign = outbox.plan(lead)
    oneoff = outbox.plan(lead, kind=SourceKind.oneoff)
    now = utcnow()
    dispatch_due(outbox.runtime, now)
    dispatch_due(outbox.runtime, now + dt.timedelta(seconds=91))
    assert outbox.refresh(campaign).reason is SkipReason.unmarketable
    assert outbox.refresh(oneoff).state is SendState.sent


def test_a_removed_lead_is_skipped(outbox: Outbox) -> None:
    lead = outbox.lead()
    send = outbox.plan(lead)
    outbox.session.delete(lead)
    outbox.session.commit()
    dispatch_due(outbox.runtime, utcnow())
    assert outbox.refresh(send).reason is SkipReason.lead_removed


def test_a_hostile_subject_is_skipped_as_a_template_error_never_sent(outbox: Outbox) -> None:
    send = outbox.plan(subject="Hi\r\nBcc: everyone@victim.example")
    dispatch_due(outbox.runtime, utcnow())
    send = outbox.refresh(send)
    assert (send.state, send.reason) == (SendState.skipped, SkipReason.template_error)
    assert "line break" in (send.error or "")
    assert outbox.sent() == []


def test_one_more_check_is_one_more_function(outbox: Outbox) -> None:
    def nobody_named_bob(due: Due) -> SkipReason | None:
        return SkipReason.suppressed if due.lead and due.lead.name == "Bob" else None

    send = outbox.plan(outbox.lead(name="Bob"))
    dispatch_due(outbox.runtime, utcnow(), checks=(*CHECKS, nobody_named_bob))
    assert outbox.refresh(send).reason is SkipReason.suppressed


def test_a_mailbox_sends_one_at_a_time_with_a_random_gap(outbox: Outbox) -> None:
    first, second = outbox.plan(), outbox.plan()
    now = utcnow()
    assert dispatch_due(outbox.runtime, now, random=lambda: 0.5).sent == 1
    gap = _slot(outbox).next_slot_at - now  # type: ignore[operator]
    assert gap == pacing.gap(pacing.default_cap(outbox.mailbox.email), lambda: 0.5)
    assert dt.timedelta(seconds=30) <= gap <= dt.timedelta(seconds=90)
    assert dispatch_due(outbox.runtime, now + gap - dt.timedelta(seconds=1)).sent == 0
    assert dispatch_due(outbox.runtime, now + gap).sent == 1
    assert [outbox.refresh(s).state for s in (first, second)] == [SendState.sent] * 2


def test_the_cap_holds_over_a_rolling_day_and_the_rest_waits_in_order(outbox: Outbox) -> None:
    sends = [outbox.plan() for _ in range(3)]
    slot = _slot(outbox)
    slot.daily_cap = 2
    outbox.session.commit()
    now = utcnow()
    for minute in range(3):
        dispatch_due(outbox.runtime, now + dt.timedelta(minutes=2 * minute))
    states = [outbox.refresh(s).state for s in sends]
    assert states == [SendState.sent, SendState.sent, SendState.planned]
    assert _slot(outbox).next_slot_at == now + pacing.DAY  # when the first leaves the day
    dispatch_due(outbox.runtime, now + pacing.DAY + dt.timedelta(seconds=1))
    assert outbox.refresh(sends[2]).state is SendState.sent
    assert len(outbox.sent()) == 3


def test_gmails_sending_limit_pauses_the_mailbox_until_gmails_time(outbox: Outbox) -> None:
    outbox.control("options", {"daily_send_limit": 0, "send_limit_delay": 0})
    send = outbox.plan()
    now = utcnow()
    tally = dispatch_due(outbox.runtime, now)
    assert tally.paused == 1
    assert tally.sent == 0
    slot = _slot(outbox)
    assert slot.paused_until is not None
    assert slot.paused_until > now + dt.timedelta(hours=1)
    assert slot.next_slot_at == slot.paused_until
    assert "Mail sending" in (slot.pause_reason or "")
    send = outbox.refresh(send)
    assert send.state is SendState.committed
    assert send.due_at == slot.paused_until
    assert dispatch_due(outbox.runtime, now + dt.timedelta(minutes=30)).mailboxes == 0
    outbox.control("options", {"daily_send_limit": 10})
    assert dispatch_due(outbox.runtime, slot.paused_until).sent == 1
    assert _slot(outbox).paused_until is None
    assert len(outbox.sent()) == 1


def test_a_send_due_outside_its_window_is_replanned_into_the_next(outbox: Outbox) -> None:
    saturday = dt.datetime(2026, 11, 28, 10, 0, tzinfo=dt.UTC)
    lead = outbox.lead(timezone="Europe/Berlin")
    send = outbox.plan(lead, due_at=saturday, window=WORKING_HOURS)
    assert dispatch_due(outbox.runtime, saturday).replanned == 1
    send = outbox.refresh(send)
    assert send.state is SendState.planned
    assert send.due_at == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)  # Monday 09:00 CET
    late = dt.datetime(2026, 12, 5, 10, 0, tzinfo=dt.UTC)  # a week of downtime: stale
    dispatch_due(outbox.runtime, late)
    assert outbox.refresh(send).reason is SkipReason.window_passed
    assert outbox.sent() == []


def test_a_merge_moves_sends_to_the_kept_lead_and_drops_a_second_of_one_campaign(
    outbox: Outbox,
) -> None:
    from inboxcrm.leads.merge import merge_leads
    from inboxcrm.tenancy import Scope

    keep, other = outbox.lead(), outbox.lead()
    kept_send = outbox.plan(keep, source="7")
    twin = outbox.plan(other, source="7")  # the same campaign to the same person
    moved = outbox.plan(other, source="8")
    member = outbox.mailbox.member
    merge_leads(Scope(outbox.session, member.workspace_id), keep, other, member, utcnow())
    outbox.session.commit()
    assert outbox.refresh(kept_send).lead_id == keep.id
    assert outbox.refresh(moved).lead_id == keep.id
    assert outbox.refresh(twin).lead_id is None
    now = utcnow()
    for minute in range(3):
        dispatch_due(outbox.runtime, now + dt.timedelta(minutes=2 * minute))
    assert outbox.refresh(twin).reason is SkipReason.lead_removed
    assert len(outbox.sent()) == 2
