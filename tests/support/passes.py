"""One real sync pass over a mailbox on the sandbox Google, as the clock runs it: the real
client library, a quota bucket on the sandbox's clock, every sync step, then the link-mail
job that matches new leads to mail stored before them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from inboxcrm.accounts.models import Mailbox, SyncState
from inboxcrm.db import Database
from inboxcrm.gmail.calls import GmailCalls, RetryPolicy
from inboxcrm.gmail.pacing import TokenBucket
from inboxcrm.leads.jobs import link_queued_mail
from inboxcrm.mail.steps import SyncSteps
from inboxcrm.mail.sync import sync_mailbox
from inboxcrm.setup import SYNC_STEPS
from tests.support.clocks import SandboxClock
from tests.support.sandbox import Control


def sync_pass(
    db: Database,
    box: Mailbox,
    gmail: Callable[..., Any],
    control: Control,
    steps: SyncSteps = SYNC_STEPS,
) -> SyncState:
    clock = SandboxClock(control)
    calls = GmailCalls(
        gmail(box.email), TokenBucket(clock), clock=clock, policy=RetryPolicy(attempts=3),
        random=lambda: 0.5,
    )  # fmt: skip
    state = sync_mailbox(db, box.id, calls, clock.now, steps)
    link_queued_mail(db, clock.now())  # the clock's link job, after the pass
    return state
