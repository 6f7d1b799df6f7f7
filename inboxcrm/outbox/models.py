"""The outbox's tables: the suppression list, the raw tracking hits and the workspace's
sending settings (postal address, tracking on or off)."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column

from inboxcrm.db import Base, InWorkspace, enum_column, utcnow


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
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (UniqueConstraint("workspace_id"),)
