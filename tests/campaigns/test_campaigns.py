"""Campaigns through the real outbox and the sandbox's Gmail: the audience counted with
what is excluded and why, one launch however often it is asked for, every email composed
as marketing mail (RFC 8058 headers, the footer, tracking), pause, resume and cancel that
never resend or burst, a test send, and who may send from which mailbox."""

from __future__ import annotations

import datetime as dt
import email
import itertools
import threading
from email.message import Message
from email.policy import default

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from inboxcrm.accounts.models import Member, Role
from inboxcrm.campaigns import service
from inboxcrm.campaigns.models import Campaign, CampaignState, Schedule, SenderMode
from inboxcrm.campaigns.service import Draft
from inboxcrm.campaigns.stats import stats
from inboxcrm.campaigns.templates import update_template
from inboxcrm.db import utcnow
from inboxcrm.errors import Forbidden, Invalid
from inboxcrm.leads.models import LeadEmail
from inboxcrm.outbox.dispatch import dispatch_due
from inboxcrm.outbox.models import (
    MailboxSending,
    Send,
    SendState,
    SkipReason,
    SourceKind,
    SuppressionReason,
)
from inboxcrm.outbox.settings import save_settings
from inboxcrm.outbox.suppression import Suppress, suppress
from inboxcrm.stages.models import Stage, StageKind
from inboxcrm.tenancy import Scope
from tests.factories import LeadFactory, MailboxFactory, MemberFactory
from tests.support.campaigns import Campaigns, allow_campaigns, dispatch_all

pytestmark = pytest.mark.google


def _sends(c: Campaigns, campaign_id: int) -> list[Send]:
    c.outbox.session.expire_all()
    return list(
        c.outbox.session.scalars(
            select(Send)
            .where(Send.source_kind == SourceKind.campaign, Send.source_id == str(campaign_id))
            .order_by(Send.id)
        )
    )


def _mime(send: Send) -> Message:
    assert send.mime is not None
    return email.message_from_bytes(send.mime, policy=default)


def test_the_audience_is_a_number_first_with_what_is_excluded_and_why(c: Campaigns) -> None:
    ok = c.outbox.lead(name="Ann Archer")
    unsubscribed = c.outbox.lead()
    bounced = c.outbox.lead()
    lost = c.outbox.lead()
    gone = Suppress(unsubscribed.email, SuppressionReason.unsubscribed, "one_click")
    suppress(c.outbox.session, ok.workspace_id, [gone], utcnow())
    c.outbox.session.execute(
        update(LeadEmail).where(LeadEmail.email == bounced.email).values(bouncing_at=utcnow())
    )
    lost.stage = c.outbox.session.scalars(
        select(Stage).where(Stage.workspace_id == ok.workspace_id, Stage.kind == StageKind.lost)
    ).first()
    c.outbox.session.commit()
    campaign = c.draft()
    found = service.audience(c.scope, c.admin, campaign, utcnow()).as_json()
    assert found["segment"] == 4, found
    assert found["included"] == 1, found
    assert {k: v["count"] for k, v in found["excluded"].items()} == {
        "suppressed": 1, "bouncing": 1, "unmarketable": 1,
    }  # fmt: skip
    assert found["excluded"]["bouncing"]["examples"][0]["lead_id"] == bounced.id


def test_a_launch_fixes_version_and_audience_and_sends_marketing_mail(c: Campaigns) -> None:
    ann = c.outbox.lead(name="Ann Archer")
    c.outbox.lead(name="Bob Baker")
    c.unpaced()
    campaign = c.launch(c.draft())
    assert campaign.state is CampaignState.sending
    assert campaign.planned == 2
    kept = campaign.version_id
    update_template(c.scope, c.admin, c.template, utcnow(), subject="Changed {{ lead.name }}")
    c.outbox.session.commit()
    assert dispatch_all(c.outbox.runtime, utcnow()).sent == 2
    sends = _sends(c, campaign.id)
    assert [s.state for s in sends] == [SendState.sent, SendState.sent]
    assert campaign.version_id == kept  # the version it launched with
    first = next(s for s in sends if s.lead_id == ann.id)
    message = _mime(first)
    assert message["Subject"] == "Spring offer for Ann"
    base = c.outbox.runtime.settings.base_url
    unsubscribe = message["List-Unsubscribe"]
    assert unsubscribe.startswith(f"<{base}/u/")
    assert f"<mailto:{c.outbox.mailbox.email}?subject=unsubscribe%20" in unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Unsubscribe: " + base + "/u/" in text
    assert "1 Main St, Springfield" in text
    assert "1 Main St, Springfield" in html
    assert f"{base}/t/c/" in html  # the offer's link is tracked
    assert "https://vandelay.example/offer" not in html
    assert f"{base}/t/o/" in html  # the pixel
    assert len(c.outbox.sent()) == 2
    assert service.settle(c.scope, campaign, utcnow()).state is CampaignState.done


def test_a_campaign_without_tracking_keeps_its_links(c: Campaigns) -> None:
    c.outbox.lead()
    c.unpaced()
    campaign = c.launch(c.draft(tracking=False))
    dispatch_all(c.outbox.runtime, utcnow())
    html = _mime(_sends(c, campaign.id)[0]).get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "https://vandelay.example/offer" in html
    assert "/t/o/" not in html
    assert "Unsubscribe" in html  # the footer always


def test_a_one_off_email_carries_no_unsubscribe_header_or_footer(c: Campaigns) -> None:
    send = c.outbox.plan(kind=SourceKind.oneoff)
    dispatch_all(c.outbox.runtime, utcnow())
    message = _mime(c.outbox.refresh(send))
    assert message["List-Unsubscribe"] is None
    assert "Unsubscribe" not in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_launching_twice_is_one_launch_and_one_send_per_lead(c: Campaigns) -> None:
    c.outbox.lead()
    c.outbox.lead()
    campaign = c.draft()
    c.launch(campaign)
    c.launch(campaign)  # a double click
    stale = c.scope.get(type(campaign), campaign.id)
    service.launch(c.scope, c.admin, stale, utcnow())  # another tab
    c.outbox.session.commit()
    assert len(_sends(c, campaign.id)) == 2
    assert c.outbox.session.scalar(select(func.count()).select_from(type(campaign))) == 1


def test_no_launch_without_a_postal_address(c: Campaigns) -> None:
    save_settings(c.outbox.session, c.admin, "", True)
    c.outbox.lead()
    campaign = c.draft()
    with pytest.raises(Invalid, match="postal address"):
        c.launch(campaign)
    c.outbox.session.rollback()
    assert c.scope.get(type(campaign), campaign.id).state is CampaignState.draft


def test_already_received_and_the_frequency_cap_leave_leads_out(c: Campaigns) -> None:
    save_settings(c.outbox.session, c.admin, "1 Main St", True, frequency_cap=1)
    c.outbox.lead()
    c.launch(c.draft("First"))
    second = c.draft("Second")
    found = service.audience(c.scope, c.admin, second, utcnow()).as_json()
    assert found["included"] == 0
    assert found["excluded"]["frequency"]["count"] == 1


def test_leads_the_template_fails_for_are_left_out_with_the_reason(c: Campaigns) -> None:
    c.outbox.lead(name="Ann Archer", title="CFO")
    c.outbox.lead(name="Bob Baker")
    update_template(c.scope, c.admin, c.template, utcnow(), body="As {{ lead.title }}, ...")
    c.outbox.session.commit()
    campaign = c.launch(c.draft())
    assert campaign.planned == 1
    excluded = campaign.audience["excluded"]["template"]  # type: ignore[index]
    assert excluded["count"] == 1
    assert "title" in excluded["examples"][0]["why"]


def test_pause_holds_resume_replans_without_a_burst_cancel_skips(c: Campaigns) -> None:
    for _ in range(4):
        c.outbox.lead()
    c.unpaced()
    campaign = c.launch(c.draft())
    now = utcnow()
    assert dispatch_due(c.outbox.runtime, now).sent == 1
    service.pause(c.scope, c.admin, campaign, now)
    c.outbox.session.commit()
    assert dispatch_all(c.outbox.runtime, now + dt.timedelta(hours=1)).sent == 0
    sends = _sends(c, campaign.id)
    assert sum(s.state is SendState.sent for s in sends) == 1
    assert all(s.due_at is None for s in sends if s.state is SendState.planned)
    # Resumed a week later: spread from now at the mailbox's pace, none stale, none twice.
    c.outbox.session.execute(update(MailboxSending).values(gap_min_seconds=60, gap_max_seconds=60))
    c.outbox.session.commit()
    later = now + dt.timedelta(days=8)
    service.resume(c.scope, c.admin, campaign, later)
    c.outbox.session.commit()
    due = sorted(s.due_at for s in _sends(c, campaign.id) if s.state is SendState.planned)
    assert due[0] == later
    assert len(due) == 3
    assert all(b - a >= dt.timedelta(seconds=60) for a, b in itertools.pairwise(due))
    assert dispatch_all(c.outbox.runtime, later).sent == 1  # one now, the others at their time
    service.cancel(c.scope, c.admin, campaign, later)
    c.outbox.session.commit()
    sends = _sends(c, campaign.id)
    assert sorted(s.state.value for s in sends) == ["sent", "sent", "skipped", "skipped"]
    assert {s.reason for s in sends if s.state is SendState.skipped} == {SkipReason.cancelled}
    assert dispatch_all(c.outbox.runtime, later + dt.timedelta(days=1)).sent == 0
    assert len(c.outbox.sent()) == 2


def test_working_hours_plan_each_send_inside_the_leads_own_window(c: Campaigns) -> None:
    tokyo = c.outbox.lead(timezone="Asia/Tokyo")
    berlin = c.outbox.lead(timezone="Europe/Berlin")
    monday_noon_utc = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)  # 21:00 in Tokyo
    campaign = c.launch(c.draft(schedule=Schedule.working_hours), monday_noon_utc)
    due = {s.lead_id: s.due_at for s in _sends(c, campaign.id)}
    assert due[berlin.id] == monday_noon_utc  # 13:00 in Berlin: at once
    assert due[tokyo.id] == dt.datetime(2026, 12, 1, 0, 0, tzinfo=dt.UTC)  # 9:00 in Tokyo


def test_a_test_send_goes_to_the_marketer_marked_as_a_test(c: Campaigns) -> None:
    c.outbox.lead(name="Ann Archer")
    campaign = c.draft()
    send = service.send_test(c.scope, c.admin, campaign, utcnow(), key="k" * 20)
    again = service.send_test(c.scope, c.admin, campaign, utcnow(), key="k" * 20)
    c.outbox.session.commit()
    assert again.id == send.id
    dispatch_all(c.outbox.runtime, utcnow())
    sent = c.outbox.refresh(send)
    assert sent.state is SendState.sent
    assert sent.to_email == c.admin.email
    message = _mime(sent)
    assert message["Subject"] == "[Test] Spring offer for Ann"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert campaign.state is CampaignState.draft
    assert _sends(c, campaign.id) == []


def test_a_rep_sends_from_their_own_mailbox_to_their_own_leads_only(c: Campaigns) -> None:
    rep_box = MailboxFactory(workspace=c.admin.workspace, email="rep@northwind.io")
    rep = rep_box.member
    assert rep is not None
    c.outbox.lead()  # Ava's
    c.outbox.control("contacts", {"emails": ["mine@customer.example"]})
    LeadFactory(owner=rep, email="mine@customer.example")
    with pytest.raises(Forbidden, match="own mailbox"):
        service.create_campaign(
            c.scope, rep, Draft(name="Mine", mailbox_id=c.outbox.mailbox.id), utcnow()
        )
    campaign = service.create_campaign(
        c.scope, rep,
        Draft(name="Mine", template_id=c.template.id, segment_id=c.segment.id), utcnow(),
    )  # fmt: skip
    assert campaign.mailbox_id == rep_box.id
    found = service.audience(c.scope, rep, campaign, utcnow()).as_json()
    assert found["included"] == 1
    assert found["excluded"]["not_yours"]["count"] == 1


def test_another_members_mailbox_needs_their_consent(c: Campaigns, client: FlaskClient) -> None:
    marketer = MemberFactory(workspace=c.admin.workspace, role=Role.marketer)
    c.outbox.lead()
    campaign = service.create_campaign(
        c.scope, marketer,
        Draft(name="From Ava", template_id=c.template.id, segment_id=c.segment.id,
              mailbox_id=c.outbox.mailbox.id), utcnow(),
    )  # fmt: skip
    with pytest.raises(Forbidden, match="Allow campaigns from my mailbox"):
        service.audience(c.scope, marketer, campaign, utcnow())
    c.outbox.session.commit()
    allow_campaigns(client, c.outbox.mailbox.id)
    c.outbox.session.expire_all()
    assert service.audience(c.scope, marketer, campaign, utcnow()).as_json()["included"] == 1


def test_send_from_owner_uses_each_owners_mailbox_when_allowed(
    c: Campaigns, client: FlaskClient
) -> None:
    marketer = MemberFactory(workspace=c.admin.workspace, role=Role.marketer)
    c.outbox.lead()
    campaign = service.create_campaign(
        c.scope, marketer,
        Draft(name="Owners", template_id=c.template.id, segment_id=c.segment.id,
              sender_mode=SenderMode.owner), utcnow(),
    )  # fmt: skip
    found = service.audience(c.scope, marketer, campaign, utcnow()).as_json()
    assert found["excluded"]["no_consent"]["count"] == 1
    c.outbox.session.commit()
    allow_campaigns(client, c.outbox.mailbox.id)
    c.outbox.session.expire_all()
    launched = service.launch(c.scope, marketer, campaign, utcnow())
    c.outbox.session.commit()
    assert launched.planned == 1
    assert _sends(c, campaign.id)[0].mailbox_id == c.outbox.mailbox.id
    assert stats(c.scope, launched, utcnow()).due == 1


@pytest.fixture
def c(campaigns: Campaigns) -> Campaigns:
    return campaigns


def test_a_campaign_sends_within_its_mailboxs_daily_cap(c: Campaigns) -> None:
    for _ in range(4):
        c.outbox.lead()
    c.unpaced()
    c.outbox.session.execute(update(MailboxSending).values(daily_cap=2))
    c.outbox.session.commit()
    campaign = c.launch(c.draft())
    now = utcnow()
    assert dispatch_all(c.outbox.runtime, now).sent == 2
    assert dispatch_all(c.outbox.runtime, now + dt.timedelta(hours=23)).sent == 0
    found = stats(c.scope, campaign, now + dt.timedelta(hours=23))
    assert (found.sent, found.due) == (2, 2)  # due, waiting for the cap's next free slot
    assert dispatch_all(c.outbox.runtime, now + dt.timedelta(hours=24, minutes=1)).sent == 2
    assert len(c.outbox.sent()) == 4


def test_two_launches_at_once_plan_one_send_per_lead(c: Campaigns) -> None:
    """Two tabs launching together, each in its own transaction: the second waits on the
    first's conditional UPDATE (PostgreSQL's row lock, SQLite's write lock) and then finds
    the campaign launched; or SQLite refuses its write. Either way one set of Sends."""
    for _ in range(3):
        c.outbox.lead()
    campaign = c.draft()
    outcomes: list[str] = []

    def tab() -> None:
        with c.outbox.db.sessions() as other:
            scope = Scope(other, c.admin.workspace_id)
            me = other.get_one(Member, c.admin.id)
            try:
                service.launch(scope, me, scope.get(Campaign, campaign.id), utcnow())
                other.commit()
                outcomes.append("answered")
            except OperationalError:
                outcomes.append("refused")

    with c.outbox.db.sessions() as first:
        scope = Scope(first, c.admin.workspace_id)
        me = first.get_one(Member, c.admin.id)
        service.launch(scope, me, scope.get(Campaign, campaign.id), utcnow())
        second = threading.Thread(target=tab)
        second.start()
        second.join(timeout=0.5)  # it waits for this transaction
        first.commit()
    second.join()
    assert outcomes in (["answered"], ["refused"])
    assert len(_sends(c, campaign.id)) == 3
