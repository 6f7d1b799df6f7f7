from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, enum_column, utcnow


class Role(enum.StrEnum):
    admin = "admin"
    rep = "rep"
    marketer = "marketer"


class Visibility(enum.StrEnum):
    """What the rest of the team sees of a mailbox's threads."""

    full = "full"
    metadata = "metadata"
    none = "none"


class LeadPolicy(enum.StrEnum):
    """Which external people in synced mail become leads."""

    conversations = "conversations"  # people the team wrote to, plus mail to the lead inboxes
    all_mail = "all_mail"  # every external sender and recipient
    match_only = "match_only"  # mail is linked to existing leads; none are created


class SyncState(enum.StrEnum):
    queued = "queued"  # connected, first sync not started
    syncing = "syncing"
    idle = "idle"  # up to date as of last_synced_at
    throttled = "throttled"  # Gmail asked us to wait until throttled_until
    failed = "failed"  # last_error says why; retried at the next poll


class MailboxStatus(enum.StrEnum):
    connected = "connected"
    needs_reconnect = "needs_reconnect"
    disconnected = "disconnected"


class Workspace(Base):
    __tablename__ = "workspace"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    sync_days: Mapped[int] = mapped_column(default=90)
    # People who sign in with an address at `domain` join as reps unless an admin turns it off.
    allow_join: Mapped[bool] = mapped_column(default=True, server_default=true())
    lead_policy: Mapped[LeadPolicy] = mapped_column(
        enum_column(LeadPolicy),
        default=LeadPolicy.conversations,
        server_default=LeadPolicy.conversations.value,
    )
    # Shared addresses such as sales@: whoever writes to them becomes a lead.
    lead_inboxes: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # After the capture rules change, the clock applies them to the stored mail thread by
    # thread: the next thread id to capture (None: nothing pending), and the leads made.
    recapture_from: Mapped[int | None]
    recapture_created: Mapped[int] = mapped_column(default=0, server_default="0")
    # Send windows of leads with no timezone of their own are in this one (IANA name).
    timezone: Mapped[str] = mapped_column(String(64), default="UTC", server_default="UTC")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    members: Mapped[list[Member]] = relationship(back_populates="workspace")


class Member(InWorkspace, Base):
    __tablename__ = "member"

    # A person belongs to one workspace, so the address is unique across the service.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.rep)
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    # When `timezone` was taken from their browser or chosen (None: not yet, so the next
    # page they open sends the browser's).
    timezone_set_at: Mapped[dt.datetime | None]
    # Rotated on every sign-in, so a sign-in link works once.
    login_nonce: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # Removed by an admin: the row stays (their mail, notes and moves keep a name), but
    # they sign in no more, own no lead and are offered as no one's owner.
    removed_at: Mapped[dt.datetime | None]

    workspace: Mapped[Workspace] = relationship(back_populates="members")

    @property
    def active(self) -> bool:
        return self.removed_at is None

    __table_args__ = (Index(None, "workspace_id"),)


class Invite(InWorkspace, Base):
    """An admin's invitation: the address joins this workspace with this role on sign-in."""

    __tablename__ = "invite"

    email: Mapped[str] = mapped_column(String(254))
    role: Mapped[Role] = mapped_column(enum_column(Role), default=Role.rep)
    invited_by_id: Mapped[int | None] = mapped_column(ForeignKey("member.id", ondelete="SET NULL"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[dt.datetime | None]

    __table_args__ = (UniqueConstraint("workspace_id", "email"), Index(None, "email"))


class ApiToken(InWorkspace, Base):
    __tablename__ = "api_token"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(120), default="")
    # Only a SHA-256 of the token is kept: a database leak does not leak API access.
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[dt.datetime | None]
    revoked_at: Mapped[dt.datetime | None]

    member: Mapped[Member] = relationship()


class LoginSession(InWorkspace, Base):
    """A signed-in browser. The session cookie carries a random token; this row, found by
    the token's SHA-256, is what makes the cookie worth anything, so deleting it ends the
    session on the server: sign-out, "sign out everywhere", a removed member (cascade) and
    the idle and absolute lifetimes (accounts/sessions.py) all take effect on the next
    request, even for a copied cookie."""

    __tablename__ = "login_session"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship()

    __table_args__ = (Index(None, "member_id"),)


class Mailbox(InWorkspace, Base):
    __tablename__ = "mailbox"

    member_id: Mapped[int] = mapped_column(ForeignKey("member.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(254))
    status: Mapped[MailboxStatus] = mapped_column(
        enum_column(MailboxStatus), default=MailboxStatus.connected
    )
    visibility: Mapped[Visibility] = mapped_column(enum_column(Visibility), default=Visibility.full)
    # Fernet ciphertext of the OAuth token JSON; never stored or logged in the clear.
    token_ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    scopes: Mapped[str] = mapped_column(String(1000), default="")
    # Incremental sync resumes from here; None means a full sync is (re)needed.
    history_id: Mapped[int | None] = mapped_column(BigInteger)
    # A full sync in progress: the history id taken before listing, and the listing's page
    # token. Both are committed with each batch, so a crash resumes where it stopped.
    full_sync_history_id: Mapped[int | None] = mapped_column(BigInteger)
    full_sync_page_token: Mapped[str | None] = mapped_column(String(200))
    sync_state: Mapped[SyncState] = mapped_column(
        enum_column(SyncState), default=SyncState.queued, server_default=SyncState.queued.value
    )
    synced_messages: Mapped[int] = mapped_column(default=0, server_default="0")
    # The pass under way, for the live progress: when it began, what it has stored so far,
    # and Gmail's estimate of how many messages a full sync lists.
    sync_started_at: Mapped[dt.datetime | None]
    sync_pass_messages: Mapped[int] = mapped_column(default=0, server_default="0")
    sync_estimate: Mapped[int | None]
    throttled_until: Mapped[dt.datetime | None]
    # Why a throttled mailbox waits, as the Gmail error's kind: "rate_limited" (Gmail asked
    # us to slow down), "server" (it kept answering 5xx) or "transport" (no answer).
    throttle_kind: Mapped[str | None] = mapped_column(String(24))
    next_poll_at: Mapped[dt.datetime | None]
    # When the stage labels in this Gmail are next to be checked (null: at the next pass).
    labels_due_at: Mapped[dt.datetime | None]
    last_synced_at: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    member: Mapped[Member] = relationship()

    __table_args__ = (
        UniqueConstraint("workspace_id", "email"),
        Index(None, "next_poll_at"),
    )
