"""Time and pacing for Gmail calls: the injected clock, a quota bucket, "Retry after".

Every wait goes through one `Clock`, so tests swap in a fake that records sleeps and
assert backoff exactly without waiting.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime
from typing import Protocol

DEFAULT_UNITS_PER_MINUTE = 15_000  # Gmail's per-user quota for pre-May-2026 projects


class Clock(Protocol):
    def now(self) -> datetime:
        """An aware UTC datetime."""
        ...

    def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class TokenBucket:
    """Gmail quota units for one mailbox, shared by all its threads.

    The same model as Gmail's own limit: starts full, refills continuously. Charging
    before each call keeps us under the server's bucket, which refills while our
    request travels, so a lone client never sees a 429 from its own pace.
    """

    def __init__(
        self,
        clock: Clock,
        capacity: float = DEFAULT_UNITS_PER_MINUTE,
        refill_per_minute: float | None = None,
    ) -> None:
        if capacity <= 0:
            raise ValueError("capacity must be positive")
        self.clock = clock
        self.capacity = float(capacity)
        self.rate = (capacity if refill_per_minute is None else refill_per_minute) / 60.0
        if self.rate <= 0:
            raise ValueError("refill must be positive")
        self._level = self.capacity
        self._updated = clock.now()
        self._lock = threading.Lock()

    def take(self, units: float) -> float:
        """Spend `units`, waiting first if the bucket is short. Returns the seconds waited.

        The units are reserved under the lock (the level may go negative), so concurrent
        takers queue in arrival order instead of all waking up to the same refill.
        """
        with self._lock:
            now = self.clock.now()
            elapsed = max(0.0, (now - self._updated).total_seconds())
            self._level = min(self.capacity, self._level + elapsed * self.rate)
            self._updated = now
            if units > self.capacity:  # a call dearer than the burst: wait for a full bucket
                wait = (self.capacity - self._level) / self.rate
                self._level -= units
            else:
                self._level -= units
                wait = -self._level / self.rate if self._level < 0 else 0.0
        if wait > 0:
            self.clock.sleep(wait)
        return wait

    def drain(self) -> None:
        """Gmail said the quota is spent (another client, or a lower quota than ours):
        start from empty, so the next calls come at the refill rate, not in a burst."""
        with self._lock:
            now = self.clock.now()
            elapsed = max(0.0, (now - self._updated).total_seconds())
            self._level = min(0.0, self._level + elapsed * self.rate)
            self._updated = now

    @property
    def level(self) -> float:
        """Units available now (negative while takers are queued)."""
        with self._lock:
            elapsed = max(0.0, (self.clock.now() - self._updated).total_seconds())
            return min(self.capacity, self._level + elapsed * self.rate)


_RETRY_AFTER = re.compile(
    r"Retry after\s+(\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:?\d{2})?)"
)


def parse_retry_after(message: str | None, now: datetime) -> float | None:
    """Seconds until the "Retry after <RFC 3339>" time in a Gmail error message.

    None when the message has no such time (Gmail often sends only "Quota exceeded
    ..."); 0 when that time has already passed.
    """
    found = _RETRY_AFTER.search(message or "")
    if found is None:
        return None
    text = found.group(1).replace("z", "Z").replace("t", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # Gmail writes UTC; a bare time means UTC too
    return max(0.0, (when - now).total_seconds())
