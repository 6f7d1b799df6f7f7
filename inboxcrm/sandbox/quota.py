"""Gmail's per-user quota: a token bucket in quota units, and the rolling send limit."""

import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from inboxcrm.sandbox.clock import Clock, rfc3339
from inboxcrm.sandbox.errors import ApiError
from inboxcrm.sandbox.state import Options

# Units per call, from Gmail's published table.
COSTS = {
    "getProfile": 1, "labels.list": 1, "labels.get": 1, "history.list": 2,
    "messages.list": 5, "messages.get": 5, "messages.modify": 5, "messages.trash": 5,
    "messages.untrash": 5, "messages.delete": 10, "messages.attachments.get": 5,
    "labels.create": 5, "labels.update": 5, "labels.patch": 5, "labels.delete": 5,
    "threads.get": 10, "threads.list": 10, "threads.modify": 10, "threads.trash": 10,
    "threads.untrash": 10, "messages.insert": 25, "messages.import": 25,
    "messages.batchModify": 50, "stop": 50, "messages.send": 100, "watch": 100,
    "drafts.create": 10, "drafts.delete": 10, "drafts.get": 5, "drafts.list": 5,
    "drafts.send": 100,
}  # fmt: skip
DAY = 86400.0


@dataclass
class _Bucket:
    level: float
    updated: float


@dataclass
class Usage:
    """What one user's calls took from the bucket, for benchmarks: units granted and
    refused, and when the first and last charge came."""

    capacity: int
    first_at: float
    last_at: float
    used: int = 0
    refused: int = 0  # calls answered with a rate-limit error
    in_flight: int = 0  # calls being answered right now
    max_in_flight: int = 0  # the most at once: two syncs of one mailbox show as 2

    @property
    def available(self) -> float:
        """Units the bucket could give from the first call to the last: full at the start,
        then the refill."""
        return self.capacity + (self.last_at - self.first_at) * self.capacity / 60.0


@dataclass
class _Sends:
    times: deque[float] = field(default_factory=deque)
    over_since: float | None = None  # when the rolling count first reached the limit


class Quota:
    def __init__(self, options: Options, clock: Clock) -> None:
        self.options = options
        self.clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, _Bucket] = {}
        self._sends: dict[str, _Sends] = {}
        self._usage: dict[str, Usage] = {}

    def reset(self) -> None:
        with self._lock:
            self._buckets.clear()
            self._sends.clear()
            self._usage.clear()

    def usage(self, user: str) -> Usage | None:
        with self._lock:
            return self._usage.get(user)

    @contextmanager
    def answering(self, user: str) -> Iterator[None]:
        """Count a call of the user's while it is answered (its slow fault included)."""
        now = self.clock.now()
        with self._lock:
            usage = self._usage.setdefault(
                user, Usage(self.options.quota_units_per_minute, now, now)
            )
            usage.in_flight += 1
            usage.max_in_flight = max(usage.max_in_flight, usage.in_flight)
        try:
            yield
        finally:
            with self._lock:
                usage.in_flight -= 1

    def charge(self, user: str, operation: str) -> None:
        """Take the call's units from the user's bucket, or raise Gmail's rate-limit error."""
        capacity = self.options.quota_units_per_minute
        if capacity <= 0:
            return
        cost = COSTS.get(operation, 5)
        now = self.clock.now()
        rate = capacity / 60.0
        with self._lock:
            bucket = self._buckets.setdefault(user, _Bucket(float(capacity), now))
            usage = self._usage.setdefault(user, Usage(capacity, now, now))
            usage.last_at = now
            bucket.level = min(capacity, bucket.level + (now - bucket.updated) * rate)
            bucket.updated = now
            if bucket.level >= cost:
                bucket.level -= cost
                usage.used += cost
                return
            usage.refused += 1
            wait = (cost - bucket.level) / rate
        raise self.rate_limited(now + wait)

    def rate_limited(self, retry_at: float, suffix: str = "") -> ApiError:
        opts = self.options
        if opts.quota_retry_after:
            message = f"User-rate limit exceeded.  Retry after {rfc3339(retry_at)}{suffix}"
        else:
            message = (
                "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute per"
                " user' of service 'gmail.googleapis.com' for consumer 'project_number:0'."
            )
        return ApiError(opts.quota_status, message, reason=opts.quota_reason, domain="usageLimits")

    def record_send(self, user: str) -> bool:
        """Count one sent message. True: accepted and delivered; False: accepted, bounces.

        Past the daily limit Gmail keeps answering 200 for a while (those mails bounce),
        then refuses with 429 "(Mail sending)" until the rolling 24 hours free up room.
        """
        now = self.clock.now()
        limit = self.options.daily_send_limit
        with self._lock:
            sends = self._sends.setdefault(user, _Sends())
            while sends.times and sends.times[0] <= now - DAY:
                sends.times.popleft()
            if len(sends.times) < limit:
                sends.over_since = None
                sends.times.append(now)
                return True
            if sends.over_since is None:
                sends.over_since = now
            if now < sends.over_since + self.options.send_limit_delay:
                return False
            retry = (sends.times[0] if sends.times else now) + DAY
        error = ApiError(
            self.options.send_limit_status,
            f"User-rate limit exceeded.  Retry after {rfc3339(retry)} (Mail sending)",
            reason="rateLimitExceeded",
            domain="usageLimits",
        )
        raise error
