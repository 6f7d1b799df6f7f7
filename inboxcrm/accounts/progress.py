"""How far a mailbox's sync has got, as the Gmail page and its live status show it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from inboxcrm.accounts.models import Mailbox, SyncState


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
