"""The clock's dispatch tick: passes over the due sends until none is due or the tick's
time is up. Each pass claims mailbox slots and sends, so several clocks share the work
and none sends a row another holds."""

from __future__ import annotations

import datetime as dt
import time

from inboxcrm.db import utcnow
from inboxcrm.outbox.dispatch import Tally, dispatch_due
from inboxcrm.runtime import Runtime

DISPATCH_TICK = dt.timedelta(seconds=5)  # a gap of 30 s is kept to within a few seconds
TICK_SECONDS = 4.0


def dispatch_sends(runtime: Runtime, now: dt.datetime) -> Tally:
    total = Tally()
    deadline = time.monotonic() + TICK_SECONDS
    while time.monotonic() < deadline and not runtime.stopping.is_set():
        tally = dispatch_due(runtime, now)
        total.add(tally)
        if not tally.mailboxes:
            break
        now = utcnow()
    return total
