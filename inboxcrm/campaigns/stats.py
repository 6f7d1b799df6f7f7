"""A campaign's progress and results, read from the outbox's rows: its Sends (planned,
sent, skipped by reason, waiting), the bounces, replies and unsubscribes that came back,
and the tracking hits with their verdicts (a person's opens and clicks counted apart from
the machines'). A handful of grouped queries, whatever the audience's size."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import String, cast, func, select

from inboxcrm.campaigns.models import Campaign
from inboxcrm.leads.models import Activity, ActivityKind, Lead
from inboxcrm.mail.models import Message, Thread
from inboxcrm.outbox import pacing
from inboxcrm.outbox.models import (
    HitKind,
    Send,
    SendState,
    SourceKind,
    Suppression,
    SuppressionReason,
    TrackingHit,
    Verdict,
)
from inboxcrm.tenancy import Scope

MEAN_GAP = dt.timedelta(seconds=(pacing.MIN_GAP + pacing.MAX_GAP) / 2)
REPLIES_SHOWN = 50


def sends_of(campaign: Campaign) -> Any:
    return (
        (Send.workspace_id == campaign.workspace_id)
        & (Send.source_kind == SourceKind.campaign)
        & (Send.source_id == str(campaign.id))
    )


@dataclass(frozen=True)
class Reply:
    lead_id: int
    lead: str
    at: dt.datetime
    message_id: int | None


@dataclass
class Stats:
    planned: int = 0
    sent: int = 0
    sending: int = 0  # committed: on its way to Gmail
    failed: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    due: int = 0  # due now: waiting for its mailbox's next slot
    waiting: int = 0  # due later: its mailbox's pace, cap or the lead's window
    held: int = 0  # paused
    expected_finish: dt.datetime | None = None
    delivered: int = 0
    bounced_hard: int = 0
    bounced_soft: int = 0
    opens: int = 0  # sends a person opened
    clicks: int = 0  # sends a person clicked in
    machine_opens: int = 0  # hits by proxies, prefetch, scanners
    machine_clicks: int = 0
    machines: dict[str, int] = field(default_factory=dict)  # by verdict
    replies: int = 0
    unsubscribes: int = 0
    reply_list: list[Reply] = field(default_factory=list)
    series: dict[str, list[dt.datetime]] = field(default_factory=dict)

    def rate(self, value: int) -> float:
        return round(value / self.delivered, 4) if self.delivered else 0.0

    @property
    def rates(self) -> dict[str, float]:
        return {
            "delivered": round(self.delivered / self.sent, 4) if self.sent else 0.0,
            "bounced": round((self.bounced_hard + self.bounced_soft) / self.sent, 4)
            if self.sent
            else 0.0,
            "opened": self.rate(self.opens),
            "clicked": self.rate(self.clicks),
            "replied": self.rate(self.replies),
            "unsubscribed": self.rate(self.unsubscribes),
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "progress": {
                "planned": self.planned, "sent": self.sent, "sending": self.sending,
                "failed": self.failed, "skipped": self.skipped, "due": self.due,
                "waiting": self.waiting, "held": self.held,
                "expected_finish": self.expected_finish.isoformat()
                if self.expected_finish else None,
            },
            "results": {
                "delivered": self.delivered,
                "bounced": {"hard": self.bounced_hard, "soft": self.bounced_soft},
                "opens": self.opens, "clicks": self.clicks,
                "machine": {"opens": self.machine_opens, "clicks": self.machine_clicks,
                            "by_verdict": self.machines},
                "replies": self.replies, "unsubscribes": self.unsubscribes,
            },
            "rates": self.rates,
            "replies": [
                {"lead_id": r.lead_id, "lead": r.lead, "at": r.at.isoformat(),
                 "message_id": r.message_id}
                for r in self.reply_list
            ],
        }  # fmt: skip


def stats(scope: Scope, campaign: Campaign, now: dt.datetime) -> Stats:
    out = Stats(planned=campaign.planned)
    _progress(scope, campaign, now, out)
    _bounces(scope, campaign, out)
    _hits(scope, campaign, out)
    _replies(scope, campaign, out)
    _unsubscribes(scope, campaign, out)
    out.delivered = max(0, out.sent - out.bounced_hard - out.bounced_soft)
    return out


def _progress(scope: Scope, campaign: Campaign, now: dt.datetime, out: Stats) -> None:
    rows = scope.session.execute(
        select(Send.state, Send.reason, func.count())
        .where(sends_of(campaign))
        .group_by(Send.state, Send.reason)
    ).all()
    skipped: Counter[str] = Counter()
    for state, reason, n in rows:
        if state is SendState.sent:
            out.sent += n
        elif state is SendState.committed:
            out.sending += n
        elif state is SendState.failed:
            out.failed += n
        elif state is SendState.skipped:
            skipped[reason.value if reason is not None else "unknown"] += n
    out.skipped = dict(skipped)
    waiting = scope.session.execute(
        select(
            Send.mailbox_id,
            func.count().filter(Send.due_at.is_(None)),
            func.count().filter(Send.due_at <= now),
            func.count().filter(Send.due_at > now),
            func.max(Send.due_at),
        )
        .where(sends_of(campaign), Send.state.in_((SendState.planned, SendState.claimed)))
        .group_by(Send.mailbox_id)
    ).all()
    finish: dt.datetime | None = None
    for _mailbox, held, due, later, last in waiting:
        out.held += held
        out.due += due
        out.waiting += later
        if held and not (due or later):
            continue
        mailbox_finish = max(last or now, now + MEAN_GAP * (due + later))
        finish = mailbox_finish if finish is None else max(finish, mailbox_finish)
    out.expected_finish = finish
    sent_times = scope.session.scalars(
        select(Send.sent_at).where(sends_of(campaign), Send.sent_at.is_not(None))
    )
    out.series["sent"] = sorted(t for t in sent_times if t is not None)


def _refs(campaign: Campaign) -> Any:
    return select(cast(Send.id, String)).where(sends_of(campaign)).scalar_subquery()


def _bounces(scope: Scope, campaign: Campaign, out: Stats) -> None:
    """A bounce of a lead's campaign email: the report names its Message-ID, or (a report
    that names none) it came after the lead's email."""
    if campaign.launched_at is None:
        return
    sends = {
        lead: (message_id, sent_at)
        for lead, message_id, sent_at in scope.session.execute(
            select(Send.lead_id, Send.message_id, Send.sent_at).where(
                sends_of(campaign), Send.state == SendState.sent
            )
        ).tuples()
    }
    rows = scope.session.execute(
        select(Activity.lead_id, Activity.occurred_at, Activity.detail).where(
            Activity.workspace_id == campaign.workspace_id,
            Activity.kind == ActivityKind.bounce,
            Activity.lead_id.in_(
                select(Send.lead_id).where(sends_of(campaign), Send.state == SendState.sent)
            ),
            Activity.occurred_at >= campaign.launched_at,
        )
    ).tuples()
    counted: dict[int, str] = {}
    for lead, at, detail in rows:
        message_id, sent_at = sends.get(lead, (None, None))
        original = (detail or {}).get("original_message_id")
        ours = original == message_id if original else (sent_at is not None and at >= sent_at)
        if ours and message_id is not None:
            kind = "hard" if (detail or {}).get("type") == "hard" else "soft"
            if counted.get(lead) != "hard":
                counted[lead] = kind
    out.bounced_hard = sum(1 for k in counted.values() if k == "hard")
    out.bounced_soft = sum(1 for k in counted.values() if k == "soft")


def _hits(scope: Scope, campaign: Campaign, out: Stats) -> None:
    rows = scope.session.execute(
        select(TrackingHit.kind, TrackingHit.verdict, func.count(),
               func.count(TrackingHit.send_ref.distinct()))
        .where(TrackingHit.workspace_id == campaign.workspace_id,
               TrackingHit.send_ref.in_(_refs(campaign)),
               TrackingHit.verdict.is_not(None))
        .group_by(TrackingHit.kind, TrackingHit.verdict)
    ).all()  # fmt: skip
    machines: Counter[str] = Counter()
    for kind, verdict, n, sends in rows:
        if verdict is Verdict.person:
            if kind is HitKind.open:
                out.opens += sends
            elif kind is HitKind.click:
                out.clicks += sends
        elif verdict is not Verdict.repeat:
            machines[verdict.value] += n
            if kind is HitKind.click or kind is HitKind.trap:
                out.machine_clicks += n
            else:
                out.machine_opens += n
    out.machines = dict(machines)
    for kind, name in ((HitKind.open, "opens"), (HitKind.click, "clicks")):
        times = scope.session.scalars(
            select(func.min(TrackingHit.at))
            .where(
                TrackingHit.workspace_id == campaign.workspace_id,
                TrackingHit.send_ref.in_(_refs(campaign)),
                TrackingHit.kind == kind,
                TrackingHit.verdict == Verdict.person,
            )
            .group_by(TrackingHit.send_ref)
        )
        out.series[name] = sorted(times)


def _replies(scope: Scope, campaign: Campaign, out: Stats) -> None:
    """A lead's reply on the thread its campaign email started (the Send's Gmail thread in
    its mailbox): an Activity of kind reply, as the sync's signals store any reply."""
    rows = scope.session.execute(
        select(Activity.lead_id, Lead.name, Lead.email, Activity.occurred_at, Activity.message_id)
        .join(Message, Message.id == Activity.message_id)
        .join(Thread, Thread.id == Message.thread_id)
        .join(
            Send,
            (Send.gmail_thread_id == Thread.gmail_id)
            & (Send.mailbox_id == Thread.mailbox_id)
            & (Send.lead_id == Activity.lead_id),
        )
        .join(Lead, Lead.id == Activity.lead_id)
        .where(
            sends_of(campaign),
            Activity.workspace_id == campaign.workspace_id,
            Activity.kind == ActivityKind.reply,
        )
        .order_by(Activity.occurred_at)
    ).all()
    first: dict[int, Reply] = {}
    for lead_id, name, email, at, message_id in rows:
        first.setdefault(lead_id, Reply(lead_id, name or email, at, message_id))
    out.replies = len(first)
    out.reply_list = list(first.values())[:REPLIES_SHOWN]
    out.series["replies"] = sorted(r.at for r in first.values())


def _unsubscribes(scope: Scope, campaign: Campaign, out: Stats) -> None:
    times = list(
        scope.session.scalars(
            select(Suppression.suppressed_at).where(
                Suppression.workspace_id == campaign.workspace_id,
                Suppression.reason == SuppressionReason.unsubscribed,
                Suppression.send_ref.in_(_refs(campaign)),
            )
        )
    )
    out.unsubscribes = len(times)
    out.series["unsubscribes"] = sorted(times)
