"""A mailbox's quota meter: sent over the last 24 hours, its cap, when it may next send,
and what waits (the Gmail page and `GET /api/v1/mailboxes/<id>/sending`)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.outbox import pacing
from inboxcrm.outbox.models import ACTIVE, MailboxSending, Send, SendState


@dataclass(frozen=True)
class Meter:
    mailbox_id: int
    sent_24h: int
    cap: int
    next_free_at: dt.datetime  # when the next send may go: its gap, the cap or a pause
    queued: int
    paused_until: dt.datetime | None
    pause_reason: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "mailbox_id": self.mailbox_id,
            "sent_24h": self.sent_24h,
            "cap": self.cap,
            "next_free_at": self.next_free_at.isoformat(),
            "queued": self.queued,
            "paused_until": self.paused_until.isoformat() if self.paused_until else None,
            "pause_reason": self.pause_reason,
        }


def meter(session: Session, mailbox: Mailbox, now: dt.datetime) -> Meter:
    sending = session.scalar(select(MailboxSending).where(MailboxSending.mailbox_id == mailbox.id))
    cap = (
        sending.daily_cap
        if sending is not None and sending.daily_cap is not None
        else pacing.default_cap(mailbox.email)
    )
    sent, oldest = session.execute(
        select(func.count(), func.min(Send.committed_at)).where(
            Send.mailbox_id == mailbox.id,
            Send.committed_at > now - pacing.DAY,
            Send.state.in_((SendState.committed, SendState.sent)),
        )
    ).one()
    queued = session.scalar(
        select(func.count()).where(Send.mailbox_id == mailbox.id, Send.state.in_(ACTIVE))
    )
    free = now
    if sending is not None and sending.next_slot_at is not None:
        free = max(free, sending.next_slot_at)
    if sent >= cap and oldest is not None:
        free = max(free, oldest + pacing.DAY)
    paused = sending.paused_until if sending is not None else None
    if paused is not None and paused <= now:
        paused = None
    return Meter(
        mailbox.id,
        int(sent),
        cap,
        free,
        int(queued or 0),
        paused,
        sending.pause_reason if paused is not None and sending is not None else None,
    )
