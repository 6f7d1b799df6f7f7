from __future__ import annotations

import datetime as dt
import decimal
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.accounts.models import Member
from inboxcrm.db import Base, InWorkspace, enum_column, utcnow
from inboxcrm.stages.models import Stage, StageKind


class Temperature(enum.StrEnum):
    hot = "hot"
    warm = "warm"
    cold = "cold"


class ActivityKind(enum.StrEnum):
    message_in = "message_in"
    message_out = "message_out"
    reply = "reply"
    open = "open"
    click = "click"
    bounce = "bounce"
    unsubscribe = "unsubscribe"
    meeting = "meeting"
    auto_reply = "auto_reply"  # an out-of-office or other reply on a lead's behalf
    inquiry = "inquiry"  # a lead's first message, to a lead inbox


class Company(InWorkspace, Base):
    __tablename__ = "company"

    name: Mapped[str] = mapped_column(String(200))
    website: Mapped[str | None] = mapped_column(String(500))
    industry: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    domains: Mapped[list[CompanyDomain]] = relationship(
        back_populates="company", cascade="all, delete-orphan", order_by="CompanyDomain.id"
    )

    __table_args__ = (Index(None, "workspace_id", "name"),)


class CompanyDomain(InWorkspace, Base):
    """A registrable domain (`acme.co.uk`, never `co.uk`) that identifies a company."""

    __tablename__ = "company_domain"

    company_id: Mapped[int] = mapped_column(ForeignKey("company.id", ondelete="CASCADE"))
    domain: Mapped[str] = mapped_column(String(253))

    company: Mapped[Company] = relationship(back_populates="domains")

    __table_args__ = (UniqueConstraint("workspace_id", "domain"), Index(None, "company_id"))


lead_tag = Table(
    "lead_tag",
    Base.metadata,
    Column("lead_id", ForeignKey("lead.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id", ondelete="CASCADE"), primary_key=True),
    Index(None, "tag_id", "lead_id"),  # a tag's leads from the index alone
)


class Tag(InWorkspace, Base):
    __tablename__ = "tag"

    name: Mapped[str] = mapped_column(String(60))

    __table_args__ = (UniqueConstraint("workspace_id", "name"),)


class Lead(InWorkspace, Base):
    __tablename__ = "lead"

    # The primary address, normalized; it also has a LeadEmail row like every other address.
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(200), default="")
    company_id: Mapped[int | None] = mapped_column(ForeignKey("company.id", ondelete="SET NULL"))
    title: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    timezone: Mapped[str | None] = mapped_column(String(64))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    stage_id: Mapped[int] = mapped_column(ForeignKey("stage.id", ondelete="RESTRICT"))
    deal_value: Mapped[decimal.Decimal | None] = mapped_column(Numeric(14, 2))
    currency: Mapped[str] = mapped_column(String(3), default="USD")
    lost_reason: Mapped[str | None] = mapped_column(String(300))
    score: Mapped[int] = mapped_column(default=0)
    temperature: Mapped[Temperature | None] = mapped_column(enum_column(Temperature))
    last_contacted_at: Mapped[dt.datetime | None]
    last_replied_at: Mapped[dt.datetime | None]
    # The latest award of positive engagement, set by scoring when it rescores the lead.
    last_engaged_at: Mapped[dt.datetime | None]
    source: Mapped[str] = mapped_column(String(40), default="manual")
    # Created from synced mail and not yet touched by a rep: shown as such, easy to junk.
    needs_review: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The lead's first inbound message and the team's first reply after it (speed to lead).
    first_inbound_at: Mapped[dt.datetime | None]
    first_response_at: Mapped[dt.datetime | None]
    budget: Mapped[str | None] = mapped_column(String(200))
    authority: Mapped[str | None] = mapped_column(String(200))
    need: Mapped[str | None] = mapped_column(String(500))
    timeline: Mapped[str | None] = mapped_column(String(200))
    next_step: Mapped[str | None] = mapped_column(String(300))
    # Lower-cased name, addresses and company name: what substring search matches against,
    # indexed by FTS5 trigram on SQLite and pg_trgm on PostgreSQL (see the migration).
    search_text: Mapped[str] = mapped_column(Text, default="")
    # The link-mail queue: the lead's addresses are to be matched to the mail stored before
    # it had them (a lead a sync created, an address added); drained by a clock job.
    link_mail_at: Mapped[dt.datetime | None]
    # When the temperature last changed (the history is scoring's temperature_change), and
    # the rescore queue: when the score or temperature next needs a look (decay crossing a
    # line, going quiet), for scoring's clock job.
    temperature_changed_at: Mapped[dt.datetime | None]
    rescore_at: Mapped[dt.datetime | None]
    # What its stored score events were awarded from: the digest of the rules (scoring's
    # score_rule_set) and the count and last id of its scored activities, "digest:n:id".
    # A rescore that finds the same activities recomputes only the rules that changed.
    # Written with its score events' sums (scoring's score_sums).
    scored_with: Mapped[str | None] = mapped_column(String(60))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    company: Mapped[Company | None] = relationship(lazy="joined")
    owner: Mapped[Member | None] = relationship(lazy="joined")
    stage: Mapped[Stage] = relationship(lazy="joined")
    emails: Mapped[list[LeadEmail]] = relationship(
        back_populates="lead", cascade="all, delete-orphan", order_by="LeadEmail.id"
    )
    tags: Mapped[list[Tag]] = relationship(secondary=lead_tag, order_by="Tag.name")

    # The id ends the indexes the pages walk in order: SQLite appends its rowid to every
    # index by itself, PostgreSQL does not. PostgreSQL also has the descending NULLS LAST
    # twins of the nullable sorts (migrations 0014, 0015; `leads.service.sort_order`).
    __table_args__ = (
        UniqueConstraint("workspace_id", "email"),
        # A rep's own leads, last contacted first: the leads table as a rep opens it.
        Index(None, "workspace_id", "owner_id", "last_contacted_at", "id"),
        # A board column's newest cards, and a rep's board; the columns' figures (count,
        # deal values per currency) from the index alone.
        Index(None, "workspace_id", "stage_id", "id", "currency", "deal_value"),
        Index(None, "workspace_id", "owner_id", "stage_id", "id", "currency", "deal_value"),
        # The temperature filter's leads, and its board's figures and pages (a rep's).
        Index(
            "ix_lead_temperature_board",
            *("workspace_id", "temperature", "owner_id", "stage_id", "id", "currency"),
            "deal_value",
        ),
        Index(None, "workspace_id", "score", "id"),
        Index(None, "workspace_id", "last_contacted_at", "id"),
        Index(None, "workspace_id", "last_engaged_at", "id"),
        Index(None, "workspace_id", "deal_value", "id"),
        Index(None, "workspace_id", "name", "id"),
        Index(None, "workspace_id", "created_at", "id"),
        Index(None, "company_id"),
        Index(None, "link_mail_at"),
        Index(None, "rescore_at"),
    )

    @property
    def is_marketable(self) -> bool:
        """Campaigns leave out leads whose stage says they are lost or unqualified."""
        return self.stage.kind not in (StageKind.lost, StageKind.unqualified)


class LeadEmail(InWorkspace, Base):
    """Every address of a lead, the primary included: one unique index finds a lead by any."""

    __tablename__ = "lead_email"

    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))

    # Mail to this address bounces for good (a hard bounce, or soft ones in a row), set by
    # the signals step with sisimai's reason; soft bounces in a row so far, reset by mail
    # from the address.
    bouncing_at: Mapped[dt.datetime | None]
    bounce_reason: Mapped[str | None] = mapped_column(String(40))
    soft_bounces: Mapped[int] = mapped_column(default=0, server_default="0")

    lead: Mapped[Lead] = relationship(back_populates="emails")

    __table_args__ = (UniqueConstraint("workspace_id", "email"), Index(None, "lead_id"))


class Note(InWorkspace, Base):
    __tablename__ = "note"

    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    edited_at: Mapped[dt.datetime | None]  # changed by its author (or an admin) since

    __table_args__ = (Index(None, "lead_id", "created_at"),)


class BlockedAddress(InWorkspace, Base):
    """The workspace blocklist: never a lead. `pattern` is an address or `@domain`, and a
    domain covers its subdomains."""

    __tablename__ = "blocked_address"

    pattern: Mapped[str] = mapped_column(String(254))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("workspace_id", "pattern"),)


class LinkSource(enum.StrEnum):
    mail = "mail"  # a participant of the thread, found by sync
    manual = "manual"  # attached by a rep


class ThreadLead(InWorkspace, Base):
    """A thread (one mailbox's copy) on a lead's timeline. A link a rep detached stays as
    `detached`, so the next sync does not attach it again."""

    __tablename__ = "thread_lead"

    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    source: Mapped[LinkSource] = mapped_column(enum_column(LinkSource), default=LinkSource.mail)
    detached: Mapped[bool] = mapped_column(default=False, server_default=false())

    __table_args__ = (UniqueConstraint("thread_id", "lead_id"), Index(None, "lead_id"))


class Activity(InWorkspace, Base):
    """One engagement event; scoring reads these."""

    __tablename__ = "activity"

    lead_id: Mapped[int] = mapped_column(ForeignKey("lead.id", ondelete="CASCADE"))
    kind: Mapped[ActivityKind] = mapped_column(enum_column(ActivityKind))
    occurred_at: Mapped[dt.datetime]
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="SET NULL"))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The Send it answers or came from: a person's open or click of it, a reply on its
    # thread (the outbox fills it; no foreign key, the outbox sits above leads). A
    # segment's "opened campaign X" probes the campaign's Sends' activities by it.
    send_id: Mapped[int | None]

    # A segment's "replied in the last N days": SQLite probes (lead, kind, when) once per
    # lead; PostgreSQL hashes the leads of (workspace, kind, when) from the index alone.
    # By message: the sync's scoring step finds the leads its batch's messages scored.
    __table_args__ = (
        Index(None, "lead_id", "occurred_at"),
        Index(None, "message_id"),
        Index(None, "workspace_id", "kind"),
        Index(None, "lead_id", "kind", "occurred_at"),
        Index(None, "workspace_id", "kind", "occurred_at", "lead_id"),
        Index(None, "send_id"),
    )
