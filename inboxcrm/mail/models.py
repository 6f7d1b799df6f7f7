from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from inboxcrm.db import Base, InWorkspace, enum_column


class Direction(enum.StrEnum):
    inbound = "in"
    outbound = "out"


class MessageKind(enum.StrEnum):
    """What a message is, decided once when it is stored (`inboxcrm.mail.kind`)."""

    person = "person"  # written by someone: the mail leads are made of
    bulk = "bulk"  # lists, newsletters, notifications, daemons and no-reply senders
    auto_reply = "auto_reply"  # out-of-office, vacation and other replies on a person's behalf
    bounce = "bounce"  # a delivery status report: the message did not reach someone


class Thread(InWorkspace, Base):
    """A Gmail thread as one mailbox sees it (each mailbox has its own Gmail ids)."""

    __tablename__ = "thread"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"))
    gmail_id: Mapped[str] = mapped_column(String(32))
    subject: Mapped[str] = mapped_column(String(998), default="")
    snippet: Mapped[str] = mapped_column(String(500), default="")
    primary_lead_id: Mapped[int | None] = mapped_column(ForeignKey("lead.id", ondelete="SET NULL"))
    # Set when a rep chose the primary lead, so sync never overrides the choice.
    primary_by_rep: Mapped[bool] = mapped_column(default=False, server_default=false())
    is_private: Mapped[bool] = mapped_column(default=False)
    last_message_at: Mapped[dt.datetime | None]
    # The Gmail id of the stage label this thread carries, as the sync last saw it or the
    # relabel last put it: a label seen again is no news, so our own relabel never echoes.
    shown_label_id: Mapped[str | None] = mapped_column(String(64))
    # The relabel outbox: Gmail's labels should be made to show the primary lead's stage
    # from this time on (claimed by pushing it a lease ahead; cleared when done).
    relabel_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("mailbox_id", "gmail_id"),
        Index(None, "primary_lead_id", "last_message_at"),
        Index(None, "relabel_at"),
    )


class Message(InWorkspace, Base):
    """A Gmail message as one mailbox sees it; `rfc_message_id` deduplicates across mailboxes."""

    __tablename__ = "message"

    mailbox_id: Mapped[int] = mapped_column(ForeignKey("mailbox.id", ondelete="CASCADE"))
    thread_id: Mapped[int] = mapped_column(ForeignKey("thread.id", ondelete="CASCADE"))
    gmail_id: Mapped[str] = mapped_column(String(32))
    rfc_message_id: Mapped[str | None] = mapped_column(String(998))
    direction: Mapped[Direction] = mapped_column(enum_column(Direction))
    from_addr: Mapped[str] = mapped_column(String(998), default="")
    to_addrs: Mapped[str] = mapped_column(Text, default="")
    cc_addrs: Mapped[str] = mapped_column(Text, default="")
    subject: Mapped[str] = mapped_column(String(998), default="")
    snippet: Mapped[str] = mapped_column(String(500), default="")
    sent_at: Mapped[dt.datetime]
    label_ids: Mapped[list[str]] = mapped_column(JSON, default=list)
    body_text: Mapped[str | None] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    size_estimate: Mapped[int] = mapped_column(BigInteger, default=0)
    history_id: Mapped[int | None] = mapped_column(BigInteger)
    # Only person mail makes leads; an auto-reply is linked to its lead but is no reply.
    kind: Mapped[MessageKind] = mapped_column(
        enum_column(MessageKind),
        default=MessageKind.person,
        server_default=MessageKind.person.value,
    )
    in_reply_to: Mapped[str | None] = mapped_column(String(998))  # the Message-ID it answers
    references: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    auto_submitted: Mapped[str | None] = mapped_column(String(998))  # e.g. auto-replied
    # A bounce: who the mail did not reach, and the Message-ID of the mail that bounced.
    failed_recipients: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    original_message_id: Mapped[str | None] = mapped_column(String(998))

    thread: Mapped[Thread] = relationship()

    __table_args__ = (
        UniqueConstraint("mailbox_id", "gmail_id"),
        Index(None, "thread_id", "sent_at"),
        Index(None, "workspace_id", "rfc_message_id"),
    )
