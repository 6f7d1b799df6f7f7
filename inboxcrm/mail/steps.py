"""Sync steps: what the rest of inboxcrm does with each batch of mail the sync stores.

The sync knows no consumer of mail. It stores a batch, then hands it to an ordered tuple
of steps inside the batch's transaction, so no mail is committed without what the steps
made of it (leads, stage moves, signals). A step is set-based (queries per batch, not
per message), flushes and never commits, and is idempotent: a batch replayed after a
crash yields the same rows. A step that raises fails its batch, which the next poll
fetches again. Which steps run is decided in `inboxcrm.setup`; tests pass fewer.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Mailbox
from inboxcrm.db import Database
from inboxcrm.gmail.calls import GmailCalls
from inboxcrm.mail.store import Added


@dataclass(frozen=True)
class LabelNews:
    """What a pass learned of Gmail labels: the threads (Gmail ids) whose labels changed,
    with per thread the labels history added, in order; or, at the end of a full listing,
    `listing`: every label already on the mailbox's mail (`initial` on its first sync)."""

    threads: Sequence[str] = ()
    added: Mapping[str, Sequence[str]] = field(default_factory=dict)
    listing: bool = False
    initial: bool = False


@dataclass(frozen=True)
class Batch:
    """One transaction's worth of sync news: messages just stored (flushed, with ids and
    their parsed facts), or label news, or both."""

    session: Session
    mailbox: Mailbox
    now: dt.datetime
    messages: Sequence[Added] = ()
    labels: LabelNews | None = None
    # What a step read that a later step of the batch reads alike (the stored mail of its
    # threads, say), by a key the reading package names: read once per batch.
    reads: dict[str, Any] = field(default_factory=dict, compare=False)


Step = Callable[[Batch], None]
# Before a pass reads mail, with the mailbox's Gmail and its row as the pass read it: e.g.
# the stage labels exist there. It opens a transaction only when it has work (an idle
# poll stays cheap); Gmail's refusals end the pass, any other error is logged.
Prepare = Callable[[Database, Mailbox, GmailCalls, dt.datetime], None]


@dataclass(frozen=True)
class SyncSteps:
    prepare: tuple[Prepare, ...] = ()
    batch: tuple[Step, ...] = ()

    def run(self, batch: Batch) -> None:
        for step in self.batch:
            step(batch)
        batch.session.flush()


NO_STEPS = SyncSteps()  # store mail and nothing else
