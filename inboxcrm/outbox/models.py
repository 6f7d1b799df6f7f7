"""The outbox's tables: Send (one outgoing email, the queue that makes delivery exactly
once) and MailboxSending (a mailbox's pacing: its send slot, cap and pause)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.db import Base, InWorkspace, enum_column, utcnow


class SourceKind(enum.StrEnum):
    """What planned a Send. Campaigns and sequence steps are marketing (checked against
    the lead's stage); a one-off email is a rep writing to one lead."""

    campaign = "campaign"
    step = "step"
    oneoff = "oneoff"


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
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        UniqueConstraint("workspace_id", "source_kind", "source_id", "lead_id"),
        Index(None, "due_at"),
        Index(None, "mailbox_id", "committed_at"),
        Index(None, "lead_id"),
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

    __table_args__ = (Index(None, "next_slot_at"),)
