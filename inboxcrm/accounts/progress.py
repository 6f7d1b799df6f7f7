"""How far a mailbox's sync has got, as the Gmail page and its live status show it; and
whether the clocks keep up with a team's polls (the Gmail page for admins, /healthz)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox, MailboxStatus, SyncState


@dataclass(frozen=True)
class SyncProgress:
    stored: int  # messages stored for this mailbox, all passes
    estimate: int | None  # Gmail's estimate of a full sync's total, while it lists
    rate: float | None  # messages per second in the pass under way

    @property
    def percent(self) -> int | None:
        if not self.estimate:
            return None
        return min(100, round(100 * self.stored / self.estimate))


def progress_of(mailbox: Mailbox, now: dt.datetime) -> SyncProgress:
    rate = None
    if mailbox.sync_state is SyncState.syncing and mailbox.sync_started_at is not None:
        seconds = (now - mailbox.sync_started_at).total_seconds()
        if seconds >= 1:
            rate = mailbox.sync_pass_messages / seconds
    return SyncProgress(mailbox.synced_messages, mailbox.sync_estimate, rate)


@dataclass(frozen=True)
class PollLag:
    """How the polls keep up: the longest any connected mailbox has waited past its due
    time (0 when none is overdue), and how many were polled in the last interval."""

    overdue_s: float
    polled_last_interval: int
    connected: int


def poll_lag(
    session: Session, now: dt.datetime, every: dt.timedelta, workspace_id: int | None = None
) -> PollLag:
    """Across every workspace, or one."""
    where = [Mailbox.status == MailboxStatus.connected]
    if workspace_id is not None:
        where.append(Mailbox.workspace_id == workspace_id)
    oldest, recent, total = session.execute(
        select(
            func.min(Mailbox.next_poll_at).filter(Mailbox.next_poll_at <= now),
            func.count().filter(Mailbox.last_synced_at > now - every),
            func.count(),
        ).where(*where)
    ).one()
    overdue = (now - oldest).total_seconds() if oldest is not None else 0.0
    return PollLag(round(overdue, 1), recent, total)
