"""What a failed Gmail call means, whether it is worth sending again, and when.

The client library's own retries sleep blindly and ignore "Retry after", and batches
have none, so every request runs with `num_retries=0` and `Retries.run` is the one
loop that decides what to send again, when, and for how long: for a single call and
for the calls of a batch alike.
"""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import BatchError, HttpError

from inboxcrm.gmail.pacing import Clock, TokenBucket, parse_retry_after
from inboxcrm.gmail.results import Fetched

RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
_TRANSPORT_ERRORS = (OSError, httplib2.HttpLib2Error, http.client.HTTPException, TransportError)


class GmailError(Exception):
    """Base of the errors this layer raises on purpose."""


class GmailUnavailable(GmailError):
    """Gmail kept failing (rate limits, 5xx, dropped connections): try again later.

    `retry_at` is when Gmail said to come back, if it said so; `kind` is what failed, as
    a `Failure`'s kind: "rate_limited" when Gmail asked us to slow down (any of the last
    failures did), else "server" (5xx) or "transport" (no answer). `fetched` holds what
    get_messages had already fetched, so a caller can keep it.
    """

    def __init__(
        self, message: str, retry_at: datetime | None = None, kind: str = "server"
    ) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.kind = kind
        self.fetched: Fetched | None = None


class SendOutcomeUnknown(GmailUnavailable):
    """A send failed in a way that may have sent it: reconcile by rfc822msgid, never resend."""


class GrantRevoked(GmailError):
    """The refresh token is dead (invalid_grant): the mailbox must be reconnected."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6  # tries per call, the first included
    base: float = 1.0  # first backoff, doubled each retry
    cap: float = 64.0  # longest single backoff
    jitter: float = 1.0  # up to this many seconds added at random, to spread retries
    max_wait: float = 900.0  # a "Retry after" further off than this: give up, report when

    def backoff(self, retry: int, random: Callable[[], float]) -> float:
        """Google's advice: min(cap, base * 2^(n-1) + random jitter)."""
        return min(self.cap, self.base * 2.0 ** (retry - 1) + self.jitter * random())


@dataclass
class CallStats:
    """Counters for one mailbox, safe to share between its threads."""

    calls: int = 0  # Gmail calls made, each call inside a batch counted
    units: int = 0  # quota units charged to the bucket
    retries: int = 0  # calls sent again after a failure
    rate_limited: int = 0  # calls answered with a 429/403 rate limit
    max_concurrency: int = 0  # most HTTP requests in flight at once
    slept: float = 0.0  # seconds of backoff (bucket waits not included)
    gave_up: int = 0  # GmailUnavailable raised
    _in_flight: int = field(default=0, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def charged(self, calls: int, units: int) -> None:
        with self._lock:
            self.calls += calls
            self.units += units

    def failed(self, retried: int, rate_limited: int, slept: float, gave_up: bool = False) -> None:
        with self._lock:
            self.retries += retried
            self.rate_limited += rate_limited
            self.slept += slept
            self.gave_up += gave_up

    @contextmanager
    def in_flight(self) -> Iterator[None]:
        with self._lock:
            self._in_flight += 1
            self.max_concurrency = max(self.max_concurrency, self._in_flight)
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= 1

    def as_dict(self) -> dict[str, float]:
        with self._lock:
            return {
                "calls": self.calls,
                "units": self.units,
                "retries": self.retries,
                "rate_limited": self.rate_limited,
                "max_concurrency": self.max_concurrency,
                "slept": self.slept,
                "gave_up": self.gave_up,
            }


@dataclass(frozen=True)
class Failure:
    """Why a call failed, and whether and when it may be retried."""

    kind: str  # "rate_limited", "server", "transport"
    detail: str
    wait: float | None = None  # seconds Gmail asked us to wait, when it said


# One round of calls: given the ids still to do, the failures of those to send again.
Attempt = Callable[[list[str]], dict[str, Failure]]


def error_info(exc: HttpError) -> tuple[set[str], str]:
    """Reasons and message of a Google JSON error body (either may be missing)."""
    try:
        body = json.loads(exc.content.decode("utf-8"))["error"]
    except (ValueError, KeyError, TypeError, AttributeError):
        return set(), str(getattr(exc, "reason", ""))
    errors = body.get("errors") or []
    reasons = {e.get("reason", "") for e in errors if isinstance(e, dict)}
    messages = [str(body.get("message", ""))] + [
        str(e.get("message", "")) for e in errors if isinstance(e, dict)
    ]
    return reasons, " ".join(dict.fromkeys(m for m in messages if m))  # often repeated


def is_invalid_grant(exc: RefreshError) -> bool:
    details = exc.args[1] if len(exc.args) > 1 else None
    if isinstance(details, dict) and details.get("error") == "invalid_grant":
        return True
    return "invalid_grant" in str(exc)


class Retries:
    """The retry loop of one GmailCalls: its clock, policy, jitter, counters and bucket."""

    def __init__(
        self,
        bucket: TokenBucket,
        clock: Clock,
        policy: RetryPolicy,
        random: Callable[[], float],
        stats: CallStats,
    ) -> None:
        self.bucket = bucket
        self.clock = clock
        self.policy = policy
        self.random = random
        self.stats = stats

    def run(self, operation: str, todo: list[str], attempt: Attempt) -> None:
        """Call `attempt` on the calls still to do until none fails, backing off between
        rounds; GmailUnavailable when the policy's tries are spent."""
        retry = 0
        while todo:
            failures = attempt(todo)
            if not failures:
                return
            # Count rounds without progress: under a tight quota each "Retry after"
            # round may let only a few calls through, and that is still moving.
            retry = 1 if len(failures) < len(todo) else retry + 1
            self._back_off(operation, retry, failures)
            todo = list(failures)

    def execute(self, send: Callable[[], Any]) -> tuple[Any, Failure | None]:
        """One HTTP request: its answer, or why it may be sent again. Refusals retrying
        cannot help are raised as they are; a dead grant as GrantRevoked."""
        try:
            with self.stats.in_flight():
                return send(), None
        except HttpError as exc:
            failure = self.classify(exc)
            if failure is None:
                raise
            return None, failure
        except RefreshError as exc:
            return None, self._refresh_failure(exc)
        except _TRANSPORT_ERRORS as exc:
            return None, Failure("transport", f"{type(exc).__name__}: {exc}")

    def classify(self, exc: HttpError) -> Failure | None:
        """A retryable failure, or None when retrying cannot help."""
        if isinstance(exc, BatchError):  # a batch answer the library could not read
            return Failure("server", f"batch: {exc.reason}")
        status = exc.resp.status
        reasons, message = error_info(exc)
        if status == 429 or (status == 403 and reasons & RATE_LIMIT_REASONS):
            wait = parse_retry_after(message, self.clock.now())
            header = exc.resp.get("retry-after", "")
            if wait is None and header.isdigit():
                wait = float(header)
            return Failure("rate_limited", f"{status} {message}".strip(), wait)
        if status >= 500:
            return Failure("server", f"{status} {message}".strip())
        return None

    def _refresh_failure(self, exc: RefreshError) -> Failure:
        if is_invalid_grant(exc):
            raise GrantRevoked("Google refused the refresh token (invalid_grant)") from exc
        if getattr(exc, "retryable", False):
            return Failure("transport", f"token refresh: {exc}")
        raise exc

    def _back_off(self, operation: str, retry: int, failures: dict[str, Failure]) -> None:
        """Sleep before retry number `retry` of these calls, or raise GmailUnavailable
        when out of tries. The failure asking for the longest wait decides."""
        failure = max(failures.values(), key=lambda f: f.wait or 0)
        rate_limited = sum(f.kind == "rate_limited" for f in failures.values())
        now = self.clock.now()
        if rate_limited:
            self.bucket.drain()
        retry_at = now + timedelta(seconds=failure.wait) if failure.wait is not None else None
        kind = "rate_limited" if rate_limited else failure.kind
        if failure.wait is not None and failure.wait > self.policy.max_wait:
            self.stats.failed(0, rate_limited, 0.0, gave_up=True)
            raise GmailUnavailable(f"{operation}: {failure.detail}", retry_at, kind)
        if retry >= self.policy.attempts:
            self.stats.failed(0, rate_limited, 0.0, gave_up=True)
            raise GmailUnavailable(
                f"{operation}: gave up after {retry} attempts: {failure.detail}", retry_at, kind
            )
        if failure.wait is not None:  # Gmail said when: that, plus a little jitter
            delay = failure.wait + self.policy.jitter * self.random()
        else:
            delay = self.policy.backoff(retry, self.random)
        self.stats.failed(len(failures), rate_limited, delay)
        self.clock.sleep(delay)
