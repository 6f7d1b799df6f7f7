"""The demo's marketing: the postal address and tracking, three segments (one of them who
opened the sent campaign without replying), a template, a campaign sent last week with the
results the sandbox audience gives (people and machines opening, a few clicks, replies on
the leads' threads, a hard and a soft bounce, an unsubscribe), and a draft ready to launch
from Ava's Gmail once she connects it.

The finished campaign is written as the outbox and the sync write their rows (Sends, the
tracking hits with their verdicts, activities naming their Sends, suppressions, the
replies' threads), so the campaign page, the lead pages, the scores and the segments over
it show it before any mail is sent. What the demo sends from then on (the draft, launched)
goes through the real outbox to the sandbox's audience."""

from __future__ import annotations

import datetime as dt
import random
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, MailboxStatus, Member, Workspace
from inboxcrm.campaigns.merge import context_for
from inboxcrm.campaigns.models import (
    Campaign,
    CampaignState,
    Schedule,
    SenderMode,
    TemplateVersion,
)
from inboxcrm.campaigns.render import compile_template
from inboxcrm.campaigns.templates import create_template
from inboxcrm.leads.models import Activity, ActivityKind, Lead, LeadEmail, ThreadLead
from inboxcrm.mail.models import Direction, Message, MessageKind, Thread
from inboxcrm.outbox.models import (
    HitKind,
    MailboxSending,
    Send,
    SendState,
    SourceKind,
    Suppression,
    SuppressionReason,
    TrackingHit,
    Verdict,
)
from inboxcrm.outbox.settings import save_settings
from inboxcrm.segments.filters import parse
from inboxcrm.segments.models import Segment
from inboxcrm.segments.service import create_segment, lead_ids
from inboxcrm.tenancy import Scope

POSTAL = "Northwind Inc.\n1 Harbour Street\nSpringfield, OR 97477"
SUBJECT = '{{ lead.first_name | default("Hello") }}, what is new at Northwind this month'
BODY = """Hi {{ lead.first_name | default("there") }},

Three things we shipped for teams like {{ company.name | default("yours") }}:

- **Live routing**: the board moves as the mail comes in
- A [two-minute tour](https://northwind.example/tour)
- Pricing for {{ company.industry | default("your industry") }} teams

Worth a short call? Just reply to this email.

{{ sender.name }}
"""
DRAFT_SUBJECT = "Webinar: how {{ company.name | default('teams') }} answer leads in minutes"
DRAFT_BODY = """Hi {{ lead.first_name | default("there") }},

We are hosting a 30-minute webinar next Thursday on answering inbound leads in minutes.
[Save your seat](https://northwind.example/webinar).

{{ sender.name }}
"""
REPLIES = (
    "Thanks Ava, the routing looks useful. Could we talk on Tuesday afternoon?",
    "Interesting. Please send the pricing for our team of 40.",
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PROXY = "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
SCANNER = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Edg/131.0 SafeLinks"


def seed_campaigns(session: Session, workspace: Workspace, admin: Member, now: dt.datetime) -> None:
    """Once for the demo workspace (a later run finds its campaigns and does nothing);
    the caller commits."""
    if session.scalars(select(Campaign.id).where(Campaign.workspace_id == workspace.id)).first():
        return
    rng = random.Random(11)
    scope = Scope(session, workspace.id)
    save_settings(session, admin, POSTAL, True)
    open_pipeline = create_segment(
        scope, admin, "Open pipeline", {"field": "stage_kind", "op": "in", "value": ["open"]}
    )
    enterprise = create_segment(
        scope, admin, "Enterprise accounts",
        {"and": [{"field": "tag", "op": "has", "value": "enterprise"},
                 {"not": {"field": "stage_kind", "op": "in", "value": ["lost", "unqualified"]}}]},
    )  # fmt: skip
    update = create_template(scope, admin, "Monthly update", SUBJECT, BODY, now)
    webinar = create_template(scope, admin, "Webinar invite", DRAFT_SUBJECT, DRAFT_BODY, now)
    # Ava's Gmail, as it will be once she signs in with Google (which connects this row).
    mailbox = Mailbox(workspace_id=workspace.id, member_id=admin.id, email=admin.email,
                      status=MailboxStatus.disconnected)  # fmt: skip
    session.add(mailbox)
    session.flush()
    session.add(MailboxSending(workspace_id=workspace.id, mailbox_id=mailbox.id))
    session.add(
        Campaign(
            workspace_id=workspace.id, name="December webinar invite", template_id=webinar.id,
            segment_id=enterprise.id, sender_mode=SenderMode.mailbox, mailbox_id=mailbox.id,
            schedule=Schedule.working_hours, tracking=True, state=CampaignState.draft,
            planned=0, created_by_id=admin.id, created_at=now, updated_at=now,
        )
    )  # fmt: skip
    finished = _finished(session, rng, scope, admin, mailbox, update.current.id,
                         open_pipeline.id, now)  # fmt: skip
    session.flush()
    # Who to follow up: read the update, said nothing.
    of = {"campaign": finished.id}
    create_segment(
        scope, admin, "Opened the November update, no reply",
        {"and": [{"field": "activity", "kind": "open", "op": "ever", "of": of},
                 {"field": "activity", "kind": "reply", "op": "never", "of": of}]},
    )  # fmt: skip


def _finished(
    session: Session,
    rng: random.Random,
    scope: Scope,
    admin: Member,
    mailbox: Mailbox,
    version_id: int,
    segment_id: int,
    now: dt.datetime,
) -> Campaign:
    launched = now - dt.timedelta(days=6, hours=3)
    segment = session.get_one(Segment, segment_id)
    ids = lead_ids(scope, parse(segment.filter), now, 1000)
    leads = list(session.scalars(select(Lead).where(Lead.id.in_(ids)).order_by(Lead.id)).unique())
    version = session.get_one(TemplateVersion, version_id)
    template = compile_template(version.subject, version.body)
    campaign = Campaign(
        workspace_id=scope.workspace_id, name="November product update",
        template_id=version.template_id, version_id=version.id, segment_id=segment_id,
        sender_mode=SenderMode.mailbox, mailbox_id=mailbox.id, schedule=Schedule.now,
        tracking=True, state=CampaignState.done, planned=len(leads), created_by_id=admin.id,
        launched_by_id=admin.id, created_at=launched, updated_at=launched, launched_at=launched,
        finished_at=launched + dt.timedelta(minutes=len(leads)),
        audience={"segment": len(leads), "included": len(leads), "excluded": {}, "capped": False},
    )  # fmt: skip
    session.add(campaign)
    session.flush()
    sends = []
    for i, lead in enumerate(leads):
        message = template.render(context_for(lead, admin))
        sent_at = launched + dt.timedelta(seconds=60 * i + rng.randint(0, 30))
        token = secrets.token_hex(16)
        send = Send(
            workspace_id=scope.workspace_id, source_kind=SourceKind.campaign,
            source_id=str(campaign.id), lead_id=lead.id, mailbox_id=mailbox.id,
            member_id=admin.id, to_email=lead.email, subject=message.subject,
            body_text=message.text, body_html=message.html, planned_at=launched,
            state=SendState.sent, message_id=f"<{token}.inboxcrm@northwind.io>", token=token,
            committed_at=sent_at, sent_at=sent_at, gmail_id=f"demo{token[:12]}",
            gmail_thread_id=f"demo{token[12:24]}", attempts=1, created_at=launched,
        )  # fmt: skip
        session.add(send)
        sends.append((send, lead))
    session.flush()
    bounced = {sends[3][1].id: "hard", sends[9][1].id: "soft"}
    unsubscribed = sends[6][1].id
    replied = [sends[1][1].id, sends[12 % len(sends)][1].id]
    for send, lead in sends:
        at = send.sent_at or launched
        if lead.id in bounced:
            _bounce(session, send, lead, bounced[lead.id], at)
            continue
        _hits(session, rng, send, lead, at)
        if lead.id == unsubscribed:
            session.add(Suppression(
                workspace_id=scope.workspace_id, pattern=lead.email,
                reason=SuppressionReason.unsubscribed, source="one_click",
                suppressed_at=at + dt.timedelta(hours=2), lead_id=lead.id,
                send_ref=str(send.id),
            ))  # fmt: skip
        if lead.id in replied:
            _reply(session, mailbox, send, lead, REPLIES[replied.index(lead.id)], at)
    return campaign


def _hits(session: Session, rng: random.Random, send: Send, lead: Lead, at: dt.datetime) -> None:
    """What the audience's machines and people did, with the verdicts the clock gave."""
    ref = str(send.id)

    def hit(kind: HitKind, verdict: Verdict, after: dt.timedelta, agent: str, ip: str,
            method: str = "GET", url: str | None = None, reason: str = "") -> None:  # fmt: skip
        session.add(TrackingHit(
            workspace_id=send.workspace_id, lead_id=lead.id, send_ref=ref, kind=kind, url=url,
            method=method, user_agent=agent, ip=ip, at=at + after, sent_at=at,
            classify_at=None, verdict=verdict, reason=reason or verdict.value,
        ))  # fmt: skip

    roll = rng.random()
    if roll < 0.2:
        hit(HitKind.trap, Verdict.scanner, dt.timedelta(seconds=2), SCANNER, "40.107.1.9", "HEAD")
    if rng.random() < 0.3:
        hit(HitKind.open, Verdict.apple_mpp, dt.timedelta(seconds=20), "Mozilla/5.0", "17.58.0.4")
    if rng.random() < 0.35:
        hit(HitKind.open, Verdict.gmail_proxy, dt.timedelta(minutes=30), PROXY, "66.249.80.3")
    if rng.random() < 0.35:
        opened = at + dt.timedelta(hours=1, minutes=rng.randint(0, 600))
        hit(HitKind.open, Verdict.person, opened - at, CHROME, "73.12.4.1")
        session.add(Activity(workspace_id=send.workspace_id, lead_id=lead.id,
                             kind=ActivityKind.open, occurred_at=opened, send_id=send.id,
                             detail={"send": ref, "url": None}))  # fmt: skip
        if rng.random() < 0.4:
            url = "https://northwind.example/tour"
            clicked = opened + dt.timedelta(minutes=1)
            hit(HitKind.click, Verdict.person, clicked - at, CHROME, "73.12.4.1", url=url)
            session.add(Activity(workspace_id=send.workspace_id, lead_id=lead.id,
                                 kind=ActivityKind.click, occurred_at=clicked,
                                 send_id=send.id, detail={"send": ref, "url": url}))  # fmt: skip
    lead.rescore_at = at


def _bounce(session: Session, send: Send, lead: Lead, kind: str, at: dt.datetime) -> None:
    reason, status = ("userunknown", "5.1.1") if kind == "hard" else ("mailboxfull", "5.2.2")
    session.add(Activity(
        workspace_id=send.workspace_id, lead_id=lead.id, kind=ActivityKind.bounce,
        occurred_at=at + dt.timedelta(seconds=30),
        detail={"type": kind, "reason": reason, "status": status, "recipient": lead.email,
                "diagnostic": None, "original_message_id": send.message_id, "original_id": None},
    ))  # fmt: skip
    if kind == "hard":
        for address in session.scalars(select(LeadEmail).where(LeadEmail.email == lead.email)):
            address.bouncing_at, address.bounce_reason = at, reason
        session.add(Suppression(
            workspace_id=send.workspace_id, pattern=lead.email,
            reason=SuppressionReason.hard_bounce, source="bounce", lead_id=lead.id,
            suppressed_at=at + dt.timedelta(seconds=30), send_ref=str(send.id),
        ))  # fmt: skip


def _reply(
    session: Session, mailbox: Mailbox, send: Send, lead: Lead, text: str, at: dt.datetime
) -> None:
    """The lead's answer on the thread the campaign email started, as the sync stores it."""
    answered = at + dt.timedelta(hours=2, minutes=17)
    thread = Thread(workspace_id=send.workspace_id, mailbox_id=mailbox.id,
                    gmail_id=send.gmail_thread_id or "", subject=send.subject,
                    snippet=text[:200], primary_lead_id=lead.id,
                    last_message_at=answered)  # fmt: skip
    session.add(thread)
    session.flush()
    ours = Message(
        workspace_id=send.workspace_id, mailbox_id=mailbox.id, thread_id=thread.id,
        gmail_id=send.gmail_id or "", rfc_message_id=send.message_id,
        direction=Direction.outbound, from_addr=f"Ava Reed <{mailbox.email}>",
        to_addrs=lead.email, subject=send.subject, snippet=send.body_text[:200],
        sent_at=at, body_text=send.body_text, kind=MessageKind.person,
    )  # fmt: skip
    theirs = Message(
        workspace_id=send.workspace_id, mailbox_id=mailbox.id, thread_id=thread.id,
        gmail_id=f"{send.gmail_id}r", rfc_message_id=f"<reply.{send.token}@customer.example>",
        direction=Direction.inbound, from_addr=f"{lead.name} <{lead.email}>",
        to_addrs=mailbox.email, subject=f"Re: {send.subject}", snippet=text[:200],
        sent_at=answered, body_text=text, kind=MessageKind.person,
    )  # fmt: skip
    session.add_all([ours, theirs])
    session.add(ThreadLead(workspace_id=send.workspace_id, thread_id=thread.id, lead_id=lead.id))
    session.flush()
    session.add(Activity(
        workspace_id=send.workspace_id, lead_id=lead.id, kind=ActivityKind.reply,
        occurred_at=answered, message_id=theirs.id, send_id=send.id,
        detail={"latency_seconds": int((answered - at).total_seconds()),
                "answered_at": at.isoformat()},
    ))  # fmt: skip
    lead.last_replied_at = answered
    lead.rescore_at = answered
