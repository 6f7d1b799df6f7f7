"""Campaigns: a draft (template, segment, sender, schedule), its audience counted with
what is excluded and why, the launch that fixes the version and the audience and plans
every Send through the outbox in a few set-based statements, pause, resume and cancel
(none resends or bursts), and a test send to the marketer herself. Services flush;
callers commit.

Who may: admins and marketers create and launch any campaign, from any mailbox whose
owner allows campaigns from it (their own needs no consent); a rep only from their own
mailbox and only to their own leads (the audience excludes the rest, saying so).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import selectinload

from inboxcrm.accounts.models import Mailbox, MailboxStatus, Member, Role, Workspace
from inboxcrm.campaigns.merge import context_for
from inboxcrm.campaigns.models import (
    LAUNCHED,
    Campaign,
    CampaignState,
    EmailTemplate,
    Schedule,
    SenderMode,
    TemplateVersion,
)
from inboxcrm.campaigns.render import Rendered, TemplateProblem, compile_template
from inboxcrm.db import chunks
from inboxcrm.errors import Conflict, Forbidden, Invalid
from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.leads.models import Company, Lead, LeadEmail
from inboxcrm.outbox import pacing, windows
from inboxcrm.outbox.checks import UNMARKETABLE
from inboxcrm.outbox.dispatch import cap_of
from inboxcrm.outbox.models import MailboxSending, Send, SendState, SkipReason, SourceKind
from inboxcrm.outbox.service import sending_of
from inboxcrm.outbox.settings import outbox_settings, require_campaign_ready
from inboxcrm.outbox.suppression import suppressed
from inboxcrm.segments.filters import FilterProblem, parse
from inboxcrm.segments.models import Segment
from inboxcrm.segments.service import lead_ids
from inboxcrm.tenancy import Scope, unique_name

MAX_NAME = 120
MAX_AUDIENCE = 100_000
WEEK = dt.timedelta(days=7)
# A campaign's send may wait for its mailbox's pace and windows for days; past this it is
# no longer worth sending (window_passed).
STALE_AFTER = dt.timedelta(days=7)
LOAD = 500  # leads loaded and rendered at a time

# Why a lead of the segment gets no email, in the order they are checked.
REASONS: dict[str, str] = {
    "not_yours": "not your lead: reps send campaigns to their own leads only",
    "no_mailbox": "its owner has no connected Gmail",
    "no_consent": "its owner has not allowed campaigns from their mailbox",
    "suppressed": "suppressed: unsubscribed, bounced hard, complained or “Do not email”",
    "bouncing": "its address bounces",
    "unmarketable": "in a lost or unqualified stage",
    "already_received": "already received this campaign",
    "frequency": "over the frequency cap of campaign emails a week",
    "template": "the template fails for it",
}


def may_edit(actor: Member, campaign: Campaign) -> bool:
    """Admins and marketers edit every campaign; a rep only their own."""
    return actor.role is not Role.rep or campaign.created_by_id == actor.id


def require_edit(actor: Member, campaign: Campaign) -> None:
    if not may_edit(actor, campaign):
        raise Forbidden("reps can change only their own campaigns")


@dataclass(frozen=True)
class Draft:
    """What a campaign form or the API sets; None leaves a field as it is."""

    name: str | None = None
    template_id: int | None = None
    segment_id: int | None = None
    sender_mode: SenderMode | None = None
    mailbox_id: int | None = None
    schedule: Schedule | None = None
    start_at: dt.datetime | None = None
    window: windows.Window | None = None
    tracking: bool | None = None


def create_campaign(scope: Scope, actor: Member, draft: Draft, now: dt.datetime) -> Campaign:
    campaign = Campaign(
        workspace_id=scope.workspace_id,
        name=unique_name(scope, Campaign, draft.name or "", None, "campaign", MAX_NAME),
        created_by_id=actor.id,
        state=CampaignState.draft,
        sender_mode=SenderMode.mailbox,
        schedule=Schedule.now,
        tracking=True,
        planned=0,
        created_at=now,
        updated_at=now,
    )
    if actor.role is Role.rep:  # a rep's campaign goes from their own mailbox
        campaign.mailbox_id = _own_mailbox_id(scope, actor)
    _apply(scope, actor, campaign, draft)
    scope.session.add(campaign)
    scope.session.flush()
    return campaign


def update_campaign(
    scope: Scope, actor: Member, campaign: Campaign, draft: Draft, now: dt.datetime
) -> Campaign:
    require_edit(actor, campaign)
    if campaign.state is not CampaignState.draft:
        raise Conflict("a launched campaign cannot be changed; pause or cancel it")
    if draft.name is not None:
        campaign.name = unique_name(scope, Campaign, draft.name, campaign, "campaign", MAX_NAME)
    _apply(scope, actor, campaign, draft)
    campaign.updated_at = now
    scope.session.flush()
    return campaign


def _own_mailbox_id(scope: Scope, actor: Member) -> int | None:
    return scope.session.scalar(
        select(Mailbox.id)
        .where(Mailbox.workspace_id == scope.workspace_id, Mailbox.member_id == actor.id)
        .order_by(Mailbox.id)
    )


def _apply(scope: Scope, actor: Member, campaign: Campaign, draft: Draft) -> None:
    if draft.template_id is not None:
        scope.get(EmailTemplate, draft.template_id)
        campaign.template_id = draft.template_id
    if draft.segment_id is not None:
        scope.get(Segment, draft.segment_id)
        campaign.segment_id = draft.segment_id
    if draft.sender_mode is not None:
        campaign.sender_mode = draft.sender_mode
    if draft.mailbox_id is not None:
        mailbox = scope.get(Mailbox, draft.mailbox_id)
        if actor.role is Role.rep and mailbox.member_id != actor.id:
            raise Forbidden("reps send campaigns from their own mailbox only")
        campaign.mailbox_id = mailbox.id
    if draft.schedule is not None:
        campaign.schedule = draft.schedule
    if draft.start_at is not None:
        campaign.start_at = draft.start_at
    if draft.window is not None:
        campaign.window = draft.window.to_json()
    if draft.tracking is not None:
        campaign.tracking = draft.tracking
    if campaign.schedule is Schedule.at and campaign.start_at is None:
        raise Invalid("a campaign scheduled at a time needs that time", {"start_at": "required"})


def campaigns_of(scope: Scope) -> list[Campaign]:
    return list(
        scope.session.scalars(
            scope.select(Campaign).order_by(Campaign.created_at.desc(), Campaign.id.desc())
        )
    )


# The sender --------------------------------------------------------------------------


def _consents(scope: Scope, mailbox_ids: Iterable[int]) -> set[int]:
    ids = set(mailbox_ids)
    if not ids:
        return set()
    return set(
        scope.session.scalars(
            select(MailboxSending.mailbox_id).where(
                MailboxSending.mailbox_id.in_(ids), MailboxSending.allow_campaigns.is_(True)
            )
        )
    )


def sender_mailbox(scope: Scope, actor: Member, campaign: Campaign) -> Mailbox | None:
    """The one mailbox a campaign sends from (None: each lead's owner's), checked: it is
    connected, a rep's is their own, and another member's allows campaigns."""
    if campaign.sender_mode is SenderMode.owner:
        return None
    if campaign.mailbox_id is None:
        raise Invalid("choose the mailbox the campaign sends from", {"mailbox_id": "required"})
    mailbox = scope.get(Mailbox, campaign.mailbox_id)
    if mailbox.status is not MailboxStatus.connected:
        raise Invalid(f"{mailbox.email} is not connected: reconnect it first",
                      {"mailbox_id": "not connected"})  # fmt: skip
    if mailbox.member_id != actor.id:
        if actor.role is Role.rep:
            raise Forbidden("reps send campaigns from their own mailbox only")
        if mailbox.id not in _consents(scope, [mailbox.id]):
            raise Forbidden(
                f"{mailbox.email} does not allow campaigns from other members: its owner "
                "turns on “Allow campaigns from my mailbox” on their Gmail page"
            )
    return mailbox


def _owner_mailboxes(scope: Scope) -> dict[int, Mailbox]:
    """Each member's first connected mailbox, by member id."""
    found: dict[int, Mailbox] = {}
    for mailbox in scope.session.scalars(
        scope.select(Mailbox, Mailbox.status == MailboxStatus.connected).order_by(Mailbox.id)
    ):
        found.setdefault(mailbox.member_id, mailbox)
    return found


# The audience ------------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    """One lead's email, rendered, and where it goes from."""

    lead_id: int
    to_email: str
    mailbox_id: int
    member_id: int
    timezone: str | None
    message: Rendered


@dataclass
class Audience:
    segment: int  # leads in the segment now
    planned: list[Planned] = field(default_factory=list)
    excluded: Counter[str] = field(default_factory=Counter)
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    capped: bool = False  # the segment has more leads than a campaign takes

    def exclude(self, reason: str, lead: Lead, why: str = "") -> None:
        self.excluded[reason] += 1
        shown = self.examples.setdefault(reason, [])
        if len(shown) < 5:
            shown.append({"lead_id": lead.id, "name": lead.name or lead.email,
                          **({"why": why} if why else {})})  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "segment": self.segment,
            "included": len(self.planned),
            "excluded": {
                reason: {
                    "count": self.excluded[reason],
                    "why": REASONS[reason],
                    "examples": self.examples.get(reason, []),
                }
                for reason in REASONS
                if self.excluded[reason]
            },
            "capped": self.capped,
        }


def _ready_parts(scope: Scope, campaign: Campaign) -> tuple[TemplateVersion, Segment]:
    missing = {}
    if campaign.template_id is None:
        missing["template_id"] = "required"
    if campaign.segment_id is None:
        missing["segment_id"] = "required"
    if missing:
        raise Invalid("the campaign needs a template and a segment", missing)
    template = scope.get(EmailTemplate, campaign.template_id or 0)
    segment = scope.get(Segment, campaign.segment_id or 0)
    version = campaign.version if campaign.version is not None else template.current
    return version, segment


def audience(scope: Scope, actor: Member, campaign: Campaign, now: dt.datetime) -> Audience:
    """Who the campaign would go to if launched now, and who not and why: the segment's
    leads, each checked as the outbox will check it at send time, plus what only a
    campaign knows (this campaign already sent, the frequency cap, the template, the
    sender's rules). Set-based: a few queries per 500 leads, one render per lead."""
    version, segment = _ready_parts(scope, campaign)
    try:
        node = parse(segment.filter)
    except FilterProblem as exc:
        raise Invalid(f"the segment's filter is no longer valid: {exc.message}") from None
    one = sender_mailbox(scope, actor, campaign)
    owners = _owner_mailboxes(scope) if one is None else {}
    consented = _consents(scope, [m.id for m in owners.values()])
    members = {m.id: m for m in scope.session.scalars(scope.select(Member))}
    ids = lead_ids(scope, node, now, MAX_AUDIENCE + 1)
    found = Audience(segment=len(ids), capped=len(ids) > MAX_AUDIENCE)
    ids = ids[:MAX_AUDIENCE]
    template = compile_template(version.subject, version.body)
    received = set(
        scope.session.scalars(
            select(Send.lead_id).where(
                Send.workspace_id == scope.workspace_id,
                Send.source_kind == SourceKind.campaign,
                Send.source_id == str(campaign.id),
            )
        )
    )
    cap = outbox_settings(scope.session, scope.workspace_id).frequency_cap
    for batch in chunks(ids, LOAD):
        leads = list(
            scope.session.scalars(
                select(Lead)
                .where(Lead.id.in_(batch))
                .options(selectinload(Lead.company).selectinload(Company.domains))
                .order_by(Lead.id)
            ).unique()
        )
        emails = [lead.email for lead in leads]
        stopped = suppressed(scope.session, scope.workspace_id, emails)
        bouncing = set(
            scope.session.scalars(
                select(LeadEmail.email).where(
                    LeadEmail.workspace_id == scope.workspace_id,
                    LeadEmail.email.in_(emails),
                    LeadEmail.bouncing_at.is_not(None),
                )
            )
        )
        frequent = _over_frequency(scope, batch, cap, now)
        for lead in leads:
            if actor.role is Role.rep and lead.owner_id != actor.id:
                found.exclude("not_yours", lead)
                continue
            mailbox = one
            if mailbox is None:
                mailbox = owners.get(lead.owner_id) if lead.owner_id is not None else None
                if mailbox is None:
                    found.exclude("no_mailbox", lead)
                    continue
                if mailbox.member_id != actor.id and mailbox.id not in consented:
                    found.exclude("no_consent", lead)
                    continue
            reason = _excluded(lead, stopped, bouncing, received, frequent)
            if reason is not None:
                found.exclude(reason, lead)
                continue
            sender = members.get(mailbox.member_id) or actor
            try:
                message = template.render(context_for(lead, sender))
            except TemplateProblem as exc:
                found.exclude("template", lead, str(exc))
                continue
            found.planned.append(
                Planned(lead.id, lead.email, mailbox.id, mailbox.member_id, lead.timezone, message)
            )
    return found


def _excluded(
    lead: Lead,
    stopped: dict[str, Any],
    bouncing: set[str],
    received: set[int | None],
    frequent: set[int],
) -> str | None:
    if lead.email in stopped:
        return "suppressed"
    if lead.email in bouncing:
        return "bouncing"
    if lead.stage.kind in UNMARKETABLE:
        return "unmarketable"
    if lead.id in received:
        return "already_received"
    if lead.id in frequent:
        return "frequency"
    return None


def _over_frequency(scope: Scope, lead_ids: list[int], cap: int, now: dt.datetime) -> set[int]:
    """The leads that got (or are about to get) `cap` campaign emails within a week."""
    if cap <= 0:
        return set(lead_ids)
    rows = scope.session.execute(
        select(Send.lead_id)
        .where(
            Send.workspace_id == scope.workspace_id,
            Send.lead_id.in_(lead_ids),
            Send.source_kind == SourceKind.campaign,
            Send.state.not_in((SendState.skipped, SendState.failed)),
            Send.planned_at > now - WEEK,
        )
        .group_by(Send.lead_id)
        .having(func.count() >= cap)
    )
    return {int(row[0]) for row in rows}


# Launch, pause, resume, cancel -------------------------------------------------------


def _start(campaign: Campaign, now: dt.datetime) -> dt.datetime:
    if campaign.schedule is Schedule.at and campaign.start_at is not None:
        return max(now, campaign.start_at)
    return now


def _window(campaign: Campaign) -> windows.Window | None:
    if campaign.schedule is not Schedule.working_hours:
        return None
    return windows.Window.from_json(campaign.window)


@dataclass(frozen=True)
class Pace:
    """A mailbox's expected pace: its mean gap between sends."""

    gap: dt.timedelta

    @classmethod
    def of(cls, sending: MailboxSending, mailbox: Mailbox) -> Pace:
        low, high = sending.gap_min_seconds, sending.gap_max_seconds
        shortest = float(pacing.MIN_GAP if low is None else low)
        longest = max(shortest, float(pacing.MAX_GAP if high is None else high))
        return cls(pacing.gap(cap_of(sending, mailbox), lambda: 0.5, shortest, longest))


def _due_times(
    items: Iterable[tuple[int, str | None]],
    start: dt.datetime,
    window: windows.Window | None,
    default_tz: str,
    gaps: dict[int, dt.timedelta],
) -> Iterator[dt.datetime]:
    """When each (mailbox, lead timezone) send is expected to go: its mailbox's sends one
    gap apart from `start`, each inside the lead's window. The dispatcher keeps the real
    pace and windows; this spreads the queue so the order and the expected finish hold and
    a send is not stale before its turn."""
    clock: dict[int, dt.datetime] = {}
    waiting: dict[tuple[int, dt.datetime], int] = {}  # sends waiting for one opening
    for mailbox_id, tz in items:
        at = clock.get(mailbox_id, start)
        zone = windows.zone(tz, default_tz)
        opens = at if window is None else windows.next_open(at, window, zone)
        if opens == at:  # inside the lead's window: its turn now
            clock[mailbox_id] = at + gaps[mailbox_id]
            yield at
        else:  # waits for its window, spread among those waiting for the same opening
            n = waiting.get((mailbox_id, opens), 0)
            waiting[(mailbox_id, opens)] = n + 1
            yield opens + gaps[mailbox_id] * n


def launch(scope: Scope, actor: Member, campaign: Campaign, now: dt.datetime) -> Campaign:
    """Fix the version and the audience and plan every Send. Launching twice (a double
    click, two tabs) launches once: the state moves out of draft in one conditional
    UPDATE, which a second launch finds done (on PostgreSQL it waits for the first's row
    lock, then matches nothing)."""
    require_edit(actor, campaign)
    if campaign.state is not CampaignState.draft:
        return campaign  # launched already: nothing more to do
    require_campaign_ready(scope.session, scope.workspace_id)
    version, _segment = _ready_parts(scope, campaign)
    won = scope.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.state == CampaignState.draft)
        .values(state=CampaignState.scheduled, launched_at=now, launched_by_id=actor.id,
                version_id=version.id)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    if not getattr(won, "rowcount", 0):
        scope.session.refresh(campaign)
        return campaign
    found = audience(scope, actor, campaign, now)
    planned = _plan(scope, campaign, found.planned, now)
    first = min(planned, default=now)
    state = CampaignState.sending if first <= now else CampaignState.scheduled
    if not found.planned:
        state = CampaignState.done
    scope.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id)
        .values(state=state, audience=found.as_json(), planned=len(found.planned),
                finished_at=now if state is CampaignState.done else None, updated_at=now)
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    scope.session.refresh(campaign)
    return campaign


def _plan(
    scope: Scope, campaign: Campaign, planned: list[Planned], now: dt.datetime
) -> list[dt.datetime]:
    """The Send rows, inserted set-based (a Core INSERT of many rows), and their due times."""
    session = scope.session
    workspace = scope.session.get_one(Workspace, scope.workspace_id)
    gaps: dict[int, dt.timedelta] = {}
    for mailbox_id in {p.mailbox_id for p in planned}:
        mailbox = session.get_one(Mailbox, mailbox_id)
        gaps[mailbox_id] = Pace.of(sending_of(session, mailbox), mailbox).gap
    window = _window(campaign)
    start = _start(campaign, now)
    due = list(
        _due_times(
            ((p.mailbox_id, p.timezone) for p in planned), start, window, workspace.timezone, gaps
        )
    )
    source = str(campaign.id)
    track = None if campaign.tracking else False
    rows = [
        {"workspace_id": scope.workspace_id, "source_kind": SourceKind.campaign,
         "source_id": source, "lead_id": p.lead_id, "mailbox_id": p.mailbox_id,
         "member_id": p.member_id, "to_email": p.to_email, "subject": p.message.subject,
         "body_text": p.message.text, "body_html": p.message.html,
         "window": window.to_json() if window is not None else None,
         "stale_after_hours": int(STALE_AFTER.total_seconds() // 3600),
         "planned_at": at, "due_at": at, "state": SendState.planned, "tracking": track,
         "attempts": 0, "created_at": now}
        for p, at in zip(planned, due, strict=True)
    ]  # fmt: skip
    for chunk in chunks(rows, 1000):
        session.execute(insert(core_table(Send)), chunk)
    return due


def _campaign_sends(campaign: Campaign) -> Any:
    return (
        (Send.workspace_id == campaign.workspace_id)
        & (Send.source_kind == SourceKind.campaign)
        & (Send.source_id == str(campaign.id))
    )


def _move(scope: Scope, campaign: Campaign, to: CampaignState, *before: CampaignState) -> bool:
    moved = scope.session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.state.in_(before))
        .values(state=to)
        .execution_options(synchronize_session=False)
    )
    scope.session.refresh(campaign)
    return bool(getattr(moved, "rowcount", 0))


def pause(scope: Scope, actor: Member, campaign: Campaign, now: dt.datetime) -> Campaign:
    """Hold every send not yet committed: planned with no due time, so no dispatcher
    claims it. One a dispatcher holds right now loses its lease (every write of the
    dispatcher checks it), so it is not sent either. A committed one is on its way to
    Gmail and is reconciled as always: pausing never makes anything go twice."""
    require_edit(actor, campaign)
    if not _move(scope, campaign, CampaignState.paused, CampaignState.scheduled,
                 CampaignState.sending):  # fmt: skip
        raise Conflict(f"the campaign is {campaign.state.value}: only a launched one pauses")
    scope.session.execute(
        update(Send)
        .where(_campaign_sends(campaign), Send.state.in_((SendState.planned, SendState.claimed)))
        .values(state=SendState.planned, due_at=None)
        .execution_options(synchronize_session=False)
    )
    return campaign


def resume(scope: Scope, actor: Member, campaign: Campaign, now: dt.datetime) -> Campaign:
    """The held sends re-planned from now into the next windows at each mailbox's pace,
    in their order: no burst, and none is stale for having waited."""
    require_edit(actor, campaign)
    if not _move(scope, campaign, CampaignState.sending, CampaignState.paused):
        raise Conflict(f"the campaign is {campaign.state.value}: only a paused one resumes")
    held = scope.session.execute(
        select(Send.id, Send.mailbox_id, Lead.timezone)
        .outerjoin(Lead, Lead.id == Send.lead_id)
        .where(
            _campaign_sends(campaign),
            # claimed too: a dispatcher's claim that landed just after the pause
            Send.state.in_((SendState.planned, SendState.claimed)),
            Send.due_at.is_(None),
        )
        .order_by(Send.planned_at, Send.id)
    ).all()
    workspace = scope.session.get_one(Workspace, scope.workspace_id)
    gaps = {}
    for mailbox_id in {row.mailbox_id for row in held}:
        mailbox = scope.session.get_one(Mailbox, mailbox_id)
        gaps[mailbox_id] = Pace.of(sending_of(scope.session, mailbox), mailbox).gap
    due = _due_times(
        ((r.mailbox_id, r.timezone) for r in held), now, _window(campaign), workspace.timezone,
        gaps,
    )  # fmt: skip
    rows = [
        {"id": r.id, "state": SendState.planned, "due_at": at, "planned_at": at}
        for r, at in zip(held, due, strict=True)
    ]
    for chunk in chunks(rows, 1000):
        scope.session.execute(update(Send), chunk)
    return campaign


def cancel(scope: Scope, actor: Member, campaign: Campaign, now: dt.datetime) -> Campaign:
    """What has not gone is skipped (reason cancelled); what is committed goes as always."""
    require_edit(actor, campaign)
    if not _move(scope, campaign, CampaignState.cancelled, CampaignState.draft, *LAUNCHED):
        raise Conflict(f"the campaign is {campaign.state.value} already")
    scope.session.execute(
        update(Send)
        .where(_campaign_sends(campaign), Send.state.in_((SendState.planned, SendState.claimed)))
        .values(state=SendState.skipped, reason=SkipReason.cancelled, due_at=None)
        .execution_options(synchronize_session=False)
    )
    campaign.finished_at = now
    scope.session.flush()
    return campaign


def settle(scope: Scope, campaign: Campaign, now: dt.datetime) -> Campaign:
    """Scheduled becomes sending when its first send is due; sending becomes done when
    nothing of it waits any more (the page, the API and a clock job ask)."""
    if campaign.state not in (CampaignState.scheduled, CampaignState.sending):
        return campaign
    waiting, first = scope.session.execute(
        select(func.count(), func.min(Send.due_at)).where(
            _campaign_sends(campaign),
            Send.state.in_((SendState.planned, SendState.claimed, SendState.committed)),
        )
    ).one()
    if not waiting:
        _move(scope, campaign, CampaignState.done, CampaignState.scheduled, CampaignState.sending)
        campaign.finished_at = now
        scope.session.flush()
    elif campaign.state is CampaignState.scheduled and first is not None and first <= now:
        _move(scope, campaign, CampaignState.sending, CampaignState.scheduled)
    return campaign


@dataclass(frozen=True)
class Preview:
    lead: Lead
    message: Rendered | None
    problem: str | None


def preview_first(
    scope: Scope, actor: Member, campaign: Campaign, now: dt.datetime
) -> Preview | None:
    """The email as the segment's first lead would get it from the campaign's sender."""
    version, segment = _ready_parts(scope, campaign)
    ids = lead_ids(scope, parse(segment.filter), now, 1)
    if not ids:
        return None
    lead = scope.get(Lead, ids[0])
    mailbox = None if campaign.mailbox_id is None else scope.find(Mailbox, campaign.mailbox_id)
    if campaign.sender_mode is SenderMode.owner:
        sender = lead.owner or actor
    else:
        sender = (scope.session.get(Member, mailbox.member_id) if mailbox else None) or actor
    try:
        rendered = compile_template(version.subject, version.body).render(context_for(lead, sender))
    except TemplateProblem as exc:
        return Preview(lead, None, str(exc))
    return Preview(lead, rendered, None)


# A test send ---------------------------------------------------------------------------


def send_test(
    scope: Scope,
    actor: Member,
    campaign: Campaign,
    now: dt.datetime,
    *,
    key: str,
    lead: Lead | None = None,
) -> Send:
    """The campaign's email as `lead` (else the segment's first lead) would get it, sent to
    the actor's own address through the outbox, marked as a test: "[Test]" in the subject
    and a Send of kind `test`, with the footer and headers every lead's email carries."""
    version, segment = _ready_parts(scope, campaign)
    mailbox = sender_mailbox(scope, actor, campaign)
    if mailbox is None:
        mailbox = _owner_mailboxes(scope).get(actor.id)
        if mailbox is None:
            raise Invalid("connect your Gmail first: a test of a “send from owner” campaign "
                          "goes from your own mailbox")  # fmt: skip
    if lead is None:
        ids = lead_ids(scope, parse(segment.filter), now, 1)
        if not ids:
            raise Invalid("the segment has no leads to preview the email as")
        lead = scope.get(Lead, ids[0])
    sender = scope.session.get(Member, mailbox.member_id) or actor
    try:
        message = compile_template(version.subject, version.body).render(context_for(lead, sender))
    except TemplateProblem as exc:
        raise Invalid(f"the template fails for {lead.name or lead.email}: {exc}") from None
    existing = scope.session.scalar(
        select(Send).where(
            Send.workspace_id == scope.workspace_id,
            Send.source_kind == SourceKind.test,
            Send.source_id == key[:64],
        )
    )
    if existing is not None:  # the same form sent twice: one test
        return existing
    sending_of(scope.session, mailbox)
    send = Send(
        workspace_id=scope.workspace_id,
        source_kind=SourceKind.test,
        source_id=key[:64],
        lead_id=None,
        mailbox_id=mailbox.id,
        member_id=actor.id,
        to_email=actor.email,
        subject=f"[Test] {message.subject}",
        body_text=message.text,
        body_html=message.html,
        planned_at=now,
        due_at=now,
        tracking=False,
    )
    scope.session.add(send)
    scope.session.flush()
    return send
