"""The outbox's tables: Send (one outgoing email, the queue that makes delivery exactly
once), MailboxSending (a mailbox's pacing: its send slot, cap and pause), the suppression
list, the raw tracking hits and the workspace's sending settings (postal address, tracking
on or off, which of campaigns and sequences goes first within a mailbox's cap)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.db import Base, InWorkspace, enum_column, utcnow


class SourceKind(enum.StrEnum):
    """What planned a Send. Campaigns and sequence steps are marketing (checked against
    the lead's stage); a one-off email is a rep writing to one lead."""

    campaign = "campaign"
    step = "step"
    oneoff = "oneoff"
    test = "test"  # a marketer's test send to herself: composed as marketing, to no lead


class SendState(enum.StrEnum):
    planned = "planned"  # waiting for its due time
    claimed = "claimed"  # a dispatcher holds it (its lease is `due_at`); nothing sent yet
    committed = "committed"  # Message-ID and MIME stored; Gmail may be called (or was)
    sent = "sent"  # Gmail's message and thread ids stored
    skipped = "skipped"  # never sent: `reason` says why
    failed = "failed"  # Gmail refused it: `error` says how


class SkipReason(enum.StrEnum):
    suppressed = "suppressed"
    bouncing = "bouncing"  # the lead's address bounces (LeadEmail.bouncing_at)
    unmarketable = "unmarketable"  # the lead's stage kind takes no marketing mail
    cap = "cap"
    window_passed = "window_passed"  # its send window passed longer ago than the staleness limit
    template_error = "template_error"  # it could not be composed (bad header, too large)
    lead_removed = "lead_removed"
    exited = "exited"  # the lead left the sequence of this step (a reply synced meanwhile)
    cancelled = "cancelled"  # its campaign was cancelled before it went


class CapFirst(enum.StrEnum):
    """Which marketing mail a mailbox sends first when its daily cap cannot take all that
    is due: a follow-up in a live conversation, or a broadcast. A rep's one-off email
    always goes before both."""

    sequences = "sequences"
    campaigns = "campaigns"


# States a dispatcher still has work for; `due_at` is set for exactly these.
ACTIVE = (SendState.planned, SendState.claimed, SendState.committed)


class Send(InWorkspace, Base):
    """One outgoing email to one lead from one mailbox: unique per (source, lead), so
    planning it twice plans it once."""

    __tablename__ = "send"

    source_kind: Mapped[SourceKind] = mapped_column(enum_column(SourceKind))
    # The campaign's or step's id, or a one-off form's key (a double submit is one Send).
    source_id: Mapped[str] = mapped_column(String(64))
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"))
    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    to_email: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(998))
    body_text: Mapped[str] = mapped_column(Text, default="")
    body_html: Mapped[str | None] = mapped_column(Text)
    # A reply: the Gmail thread (of this mailbox) and the parent's RFC Message-ID chain.
    gmail_thread_hint: Mapped[str | None] = mapped_column(String(64))
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[str | None] = mapped_column(Text)
    # When it may go: its window in the lead's timezone (None: any time), and how long
    # after `planned_at` a send that missed its window is still worth sending.
    window: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    stale_after_hours: Mapped[int] = mapped_column(default=72, server_default="72")
    planned_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    state: Mapped[SendState] = mapped_column(
        enum_column(SendState), default=SendState.planned, server_default=SendState.planned.value
    )
    due_at: Mapped[dt.datetime | None]  # the queue; a claim's lease while dispatched
    # Committed before Gmail is called: the RFC Message-ID, the token header that finds it
    # when Gmail rewrote that id, and the exact MIME.
    message_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    mime: Mapped[bytes | None] = mapped_column(LargeBinary)
    committed_at: Mapped[dt.datetime | None]
    draft_id: Mapped[str | None] = mapped_column(String(64))
    gmail_id: Mapped[str | None] = mapped_column(String(64))
    gmail_thread_id: Mapped[str | None] = mapped_column(String(64))
    sent_at: Mapped[dt.datetime | None]
    reason: Mapped[SkipReason | None] = mapped_column(enum_column(SkipReason))
    error: Mapped[str | None] = mapped_column(String(1000))
    attempts: Mapped[int] = mapped_column(default=0, server_default="0")
    # Marketing mail's open and click tracking: None follows the workspace's setting,
    # False keeps it off for this send (its campaign's choice).
    tracking: Mapped[bool | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("workspace_id", "source_kind", "source_id", "lead_id"),
        Index(None, "due_at"),
        Index(None, "mailbox_id", "committed_at"),
        Index(None, "lead_id"),
        Index(None, "mailbox_id", "gmail_thread_id"),  # the Send a reply on a thread answers
    )


class MailboxSending(InWorkspace, Base):
    """A mailbox's sending: its slot (the queue a dispatcher claims before each send, so
    a mailbox sends one at a time with gaps between, however many dispatchers run), its
    rolling-24-hour cap and a pause Gmail asked for."""

    __tablename__ = "mailbox_sending"

    mailbox_id: Mapped[int] = mapped_column(
        ForeignKey("mailbox.id", ondelete="CASCADE"), unique=True
    )
    daily_cap: Mapped[int | None]  # None: 80 % of Gmail's limit for the account's kind
    # The random gap between two sends, in seconds (None: pacing.MIN_GAP and MAX_GAP).
    gap_min_seconds: Mapped[int | None]
    gap_max_seconds: Mapped[int | None]
    next_slot_at: Mapped[dt.datetime | None]  # the queue: when the next send may go
    paused_until: Mapped[dt.datetime | None]  # Gmail's sending limit: not before then
    pause_reason: Mapped[str | None] = mapped_column(String(300))
    # The owner's consent to campaigns sent by others from this mailbox ("allow campaigns
    # from my mailbox", on the Gmail page); the owner's own campaigns need none.
    allow_campaigns: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (Index(None, "next_slot_at"),)


class SuppressionReason(enum.StrEnum):
    unsubscribed = "unsubscribed"  # one-click, the mailto: link, or a reply asking
    hard_bounce = "hard_bounce"  # mail to the address cannot arrive
    complaint = "complaint"  # marked as spam
    manual = "manual"  # "Do not email", set by a member; the only reason an admin may lift


# What a new suppression may replace: a manual one gives way to what the person or their
# mail server said, which then can no longer be lifted.
LIFTABLE = frozenset({SuppressionReason.manual})


class Suppression(InWorkspace, Base):
    """An address or `@domain` (stored as the capture blocklist stores its patterns) that no
    mailbox of the workspace sends to. Named apart from `BlockedAddress`, which keeps people
    from becoming leads; a suppressed lead stays a lead."""

    __tablename__ = "suppression"

    pattern: Mapped[str] = mapped_column(String(254))
    reason: Mapped[SuppressionReason] = mapped_column(enum_column(SuppressionReason))
    # How it came: one_click, mailto, reply, bounce, manual, api.
    source: Mapped[str] = mapped_column(String(20))
    suppressed_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))
    send_ref: Mapped[str | None] = mapped_column(String(64))  # the opaque send id of a token
    by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))

    __table_args__ = (UniqueConstraint("workspace_id", "pattern"), Index(None, "lead_id"))


class HitKind(enum.StrEnum):
    open = "open"  # the pixel
    click = "click"  # a tracked link
    trap = "trap"  # the link hidden from people: only machines follow it


class Verdict(enum.StrEnum):
    person = "person"
    gmail_proxy = "gmail_proxy"
    apple_mpp = "apple_mpp"
    gmail_prefetch = "gmail_prefetch"
    scanner = "scanner"
    repeat = "repeat"


class TrackingHit(Base):
    """One request to a tracking URL, as it came: written with a single INSERT while the
    pixel or the redirect is answered, classified later by the clock (`classify_at` is the
    queue). No foreign keys: the write must not wait on any other table."""

    __tablename__ = "tracking_hit"

    id: Mapped[int] = mapped_column(primary_key=True)
    workspace_id: Mapped[int]
    lead_id: Mapped[int]
    send_ref: Mapped[str] = mapped_column(String(64))
    kind: Mapped[HitKind] = mapped_column(enum_column(HitKind))
    url: Mapped[str | None] = mapped_column(Text)
    method: Mapped[str] = mapped_column(String(8))
    user_agent: Mapped[str] = mapped_column(String(500), default="")
    ip: Mapped[str] = mapped_column(String(45), default="")
    at: Mapped[dt.datetime]
    sent_at: Mapped[dt.datetime]  # from the signed token
    classify_at: Mapped[dt.datetime | None]
    verdict: Mapped[Verdict | None] = mapped_column(enum_column(Verdict))
    reason: Mapped[str | None] = mapped_column(String(200))

    __table_args__ = (
        Index(None, "classify_at"),
        Index(None, "workspace_id", "lead_id", "verdict"),
        Index(None, "workspace_id", "send_ref"),
    )


class OutboxSettings(InWorkspace, Base):
    """A workspace's sending settings, one row (made when an admin first saves them)."""

    __tablename__ = "outbox_settings"

    # The postal address every campaign footer carries (CAN-SPAM); no launch without it.
    postal_address: Mapped[str] = mapped_column(Text, default="")
    tracking: Mapped[bool] = mapped_column(default=False, server_default=false())
    # At most this many campaign emails per lead over 7 days (the frequency cap).
    frequency_cap: Mapped[int] = mapped_column(default=3, server_default="3")
    # Within a mailbox's shared daily cap, which goes first when it cannot take all due.
    cap_first: Mapped[CapFirst] = mapped_column(
        enum_column(CapFirst), default=CapFirst.sequences, server_default=CapFirst.sequences.value
    )
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("workspace_id"),)
