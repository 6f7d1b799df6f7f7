"""One mailbox's Gmail calls: paced by its quota bucket, retried on our terms.

The client library's own retries sleep blindly and ignore "Retry after", and batches
have none, so every request here runs with `num_retries=0` and this module decides
what to retry, when, and for how long. A `GmailCalls` wraps one service built by
`build_gmail`; httplib2 is not thread-safe, so build one per thread and share the
mailbox's `TokenBucket` and `CallStats` between them.
"""

from __future__ import annotations

import base64
import http.client
import json
import random as _random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httplib2
from google.auth.exceptions import RefreshError, TransportError
from googleapiclient.errors import HttpError

from inboxcrm.gmail.pacing import Clock, TokenBucket, parse_retry_after

# Gmail's quota units per method (DESIGN.md, "The Gmail boundary").
COSTS = {
    "getProfile": 1,
    "labels.list": 1,
    "labels.create": 5,
    "labels.patch": 5,
    "history.list": 2,
    "messages.list": 5,
    "messages.get": 5,
    "threads.modify": 10,
    "messages.send": 100,
}
RATE_LIMIT_REASONS = {"rateLimitExceeded", "userRateLimitExceeded"}
MAX_BATCH = 50  # Gmail takes 100 per batch; it advises 50 and larger ones trip limits
_TRANSPORT_ERRORS = (OSError, httplib2.HttpLib2Error, http.client.HTTPException, TransportError)


class GmailError(Exception):
    """Base of the errors this layer raises on purpose."""


class GmailUnavailable(GmailError):
    """Gmail kept failing (rate limits, 5xx, dropped connections): try again later.

    `retry_at` is when Gmail said to come back, if it said so; `fetched` holds what
    get_messages had already fetched, so a caller can keep it.
    """

    def __init__(self, message: str, retry_at: datetime | None = None) -> None:
        super().__init__(message)
        self.retry_at = retry_at
        self.fetched: Fetched | None = None


class SendOutcomeUnknown(GmailUnavailable):
    """A send failed in a way that may have sent it: reconcile by rfc822msgid, never resend."""


class GrantRevoked(GmailError):
    """The refresh token is dead (invalid_grant): the mailbox must be reconnected."""


class HistoryExpired(GmailError):
    """history.list answered 404: the start id is too old, a full sync is needed."""


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


@dataclass(frozen=True)
class Page:
    ids: list[str]
    next_page_token: str | None
    result_size_estimate: int = 0


@dataclass(frozen=True)
class Modified:
    """threads.modify answers by thread id, and the threads Gmail refused (e.g. 400 for a
    label deleted meanwhile, 404 for a thread gone), with why."""

    threads: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, tuple[int, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Fetched:
    messages: dict[str, Any]  # id -> Gmail message resource
    vanished: list[str]  # 404: deleted between list and get
    failed: dict[str, str] = field(default_factory=dict)  # other refusals (e.g. 400), by id


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


class GmailCalls:
    """The Gmail calls the sync and send engines need, for one mailbox on one thread."""

    def __init__(
        self,
        service: Any,
        bucket: TokenBucket,
        *,
        clock: Clock | None = None,
        policy: RetryPolicy | None = None,
        random: Callable[[], float] = _random.random,
        stats: CallStats | None = None,
        batch_size: int = MAX_BATCH,
    ) -> None:
        if not 1 <= batch_size <= 100:
            raise ValueError("a Gmail batch holds 1 to 100 calls")
        self.service = service
        self.users = service.users()  # built once: resources are costly to build
        self.bucket = bucket
        self.clock = clock or bucket.clock
        self.policy = policy or RetryPolicy()
        self.random = random
        self.stats = stats or CallStats()
        self.batch_size = batch_size

    # --- the calls --------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        """emailAddress, messagesTotal, threadsTotal and historyId (take it before listing)."""
        return self._call("getProfile", lambda: self.users.getProfile(userId="me"))

    def list_message_ids(
        self,
        q: str | None = None,
        label_ids: Sequence[str] | None = None,
        page_token: str | None = None,
        max_results: int = 500,
        include_spam_trash: bool = False,
    ) -> Page:
        """One page of message ids, newest first as Gmail lists them."""

        def request() -> Any:
            return self.users.messages().list(
                userId="me",
                q=q,
                labelIds=list(label_ids) if label_ids else None,
                pageToken=page_token,
                maxResults=max_results,
                includeSpamTrash=include_spam_trash,
            )

        answer = self._call("messages.list", request)
        return Page(
            ids=[m["id"] for m in answer.get("messages", [])],
            next_page_token=answer.get("nextPageToken"),
            result_size_estimate=int(answer.get("resultSizeEstimate", 0)),
        )

    def history(
        self,
        start_history_id: str | int,
        page_token: str | None = None,
        history_types: Sequence[str] | None = None,
        max_results: int = 500,
    ) -> dict[str, Any]:
        """One page of history.list as Gmail returns it; HistoryExpired on 404."""

        def request() -> Any:
            return self.users.history().list(
                userId="me",
                startHistoryId=str(start_history_id),
                pageToken=page_token,
                historyTypes=list(history_types) if history_types else None,
                maxResults=max_results,
            )

        try:
            answer = self._call("history.list", request)
        except HttpError as exc:
            if exc.resp.status == 404:
                raise HistoryExpired(f"history id {start_history_id} has expired") from exc
            raise
        return answer

    def modify_thread(
        self, thread_id: str, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> dict[str, Any]:
        body = {"addLabelIds": list(add), "removeLabelIds": list(remove)}
        return self._call(
            "threads.modify",
            lambda: self.users.threads().modify(userId="me", id=thread_id, body=body),
        )

    def modify_threads(
        self, changes: Mapping[str, tuple[Sequence[str], Sequence[str]]]
    ) -> Modified:
        """threads.modify for many threads (id -> labels to add, labels to remove), through
        batches of at most `batch_size` calls; only the calls that failed go again. Adding
        and removing labels is idempotent, so a retried call is safe."""
        done = Modified()
        ids = list(changes)
        threads = self.users.threads()

        def request(thread_id: str) -> Any:
            add, remove = changes[thread_id]
            body = {"addLabelIds": list(add), "removeLabelIds": list(remove)}
            return threads.modify(userId="me", id=thread_id, body=body)

        for start in range(0, len(ids), self.batch_size):
            todo = ids[start : start + self.batch_size]
            retry = 0
            while todo:
                answers, failure = self._batch_of("threads.modify", todo, request)
                again: list[str] = []
                rate_limited = 0
                for thread_id in todo:
                    outcome = answers.get(thread_id)
                    if outcome is None:
                        again.append(thread_id)
                        rate_limited += failure is not None and failure.kind == "rate_limited"
                    elif isinstance(outcome, HttpError):
                        why = self._classify(outcome)
                        if why is None:
                            status = outcome.resp.status
                            done.failed[thread_id] = (status, error_info(outcome)[1])
                            continue
                        again.append(thread_id)
                        rate_limited += why.kind == "rate_limited"
                        failure = _worse(failure, why)
                    else:
                        done.threads[thread_id] = outcome
                if not again:
                    break
                retry = 1 if len(again) < len(todo) else retry + 1
                assert failure is not None
                self._back_off("threads.modify", retry, failure, len(again), rate_limited)
                todo = again
        return done

    def labels(self) -> list[dict[str, Any]]:
        """Every label of the mailbox, system and user ones (1 unit)."""
        answer = self._call("labels.list", lambda: self.users.labels().list(userId="me"))
        return list(answer.get("labels", []))

    def create_label(self, name: str) -> dict[str, Any]:
        """A user label; HttpError 409 when one of that name exists (names compare
        case-insensitively)."""
        body = {"name": name, "labelListVisibility": "labelShow", "messageListVisibility": "show"}
        return self._call(
            "labels.create", lambda: self.users.labels().create(userId="me", body=body)
        )

    def rename_label(self, label_id: str, name: str) -> dict[str, Any]:
        return self._call(
            "labels.patch",
            lambda: self.users.labels().patch(userId="me", id=label_id, body={"name": name}),
        )

    def send_raw(self, raw_bytes: bytes, thread_id: str | None = None) -> dict[str, Any]:
        """Send an RFC 5322 message. Only refusals (rate limits) are retried: after a 5xx
        or a dropped connection Gmail may have sent it, so that raises SendOutcomeUnknown."""
        body: dict[str, Any] = {"raw": base64.urlsafe_b64encode(raw_bytes).decode("ascii")}
        if thread_id:
            body["threadId"] = thread_id
        return self._call(
            "messages.send",
            lambda: self.users.messages().send(userId="me", body=body),
            idempotent=False,
        )

    def find_by_rfc822msgid(self, msgid: str) -> str | None:
        """The Gmail id of the message with this RFC Message-ID, trash and spam included."""
        wanted = msgid.strip().strip("<>")
        page = self.list_message_ids(
            q=f"rfc822msgid:{wanted}", max_results=10, include_spam_trash=True
        )
        return page.ids[0] if page.ids else None

    def get_messages(
        self,
        ids: Sequence[str],
        format: str = "full",  # Gmail's parameter name
        metadata_headers: Sequence[str] | None = None,
    ) -> Fetched:
        """Fetch messages through batches of at most `batch_size` calls.

        Inner calls that hit a rate limit, a 5xx or a broken batch are sent again
        (only those), after a backoff; a 404 means the message vanished since listing.
        """
        messages: dict[str, Any] = {}
        vanished: list[str] = []
        failed: dict[str, str] = {}
        unique = list(dict.fromkeys(ids))
        try:
            for start in range(0, len(unique), self.batch_size):
                self._fetch_chunk(
                    unique[start : start + self.batch_size],
                    format,
                    metadata_headers,
                    messages,
                    vanished,
                    failed,
                )
        except GmailUnavailable as exc:
            exc.fetched = Fetched(messages, vanished, failed)
            raise
        return Fetched(messages, vanished, failed)

    def _fetch_chunk(
        self,
        todo: list[str],
        format: str,
        metadata_headers: Sequence[str] | None,
        messages: dict[str, Any],
        vanished: list[str],
        failed: dict[str, str],
    ) -> None:
        """One batch's ids, sent again (only the failed calls) until all are answered."""
        retry = 0
        while todo:
            answers, failure = self._batch(todo, format, metadata_headers)
            again: list[str] = []
            rate_limited = 0
            for mid in todo:
                outcome = answers.get(mid)
                if outcome is None:  # the whole batch failed: every call goes again
                    again.append(mid)
                    rate_limited += failure is not None and failure.kind == "rate_limited"
                elif isinstance(outcome, HttpError):
                    why = self._classify(outcome)
                    if why is not None:
                        again.append(mid)
                        rate_limited += why.kind == "rate_limited"
                        failure = _worse(failure, why)
                    elif outcome.resp.status == 404:
                        vanished.append(mid)
                    else:
                        failed[mid] = f"{outcome.resp.status} {error_info(outcome)[1]}"
                else:
                    messages[mid] = outcome
            if not again:
                break
            # Count rounds without progress: under a tight quota each "Retry after"
            # round may let only a few calls through, and that is still moving.
            retry = 1 if len(again) < len(todo) else retry + 1
            assert failure is not None
            self._back_off("messages.get", retry, failure, len(again), rate_limited)
            todo = again

    # --- retries ------------------------------------------------------------------

    def _call(
        self, operation: str, make_request: Callable[[], Any], idempotent: bool = True
    ) -> dict[str, Any]:
        """One call, paced and retried. Non-retryable HttpErrors are raised as they are."""
        retry = 0
        while True:
            cost = COSTS[operation]
            self.bucket.take(cost)
            self.stats.charged(1, cost)
            try:
                with self.stats.in_flight():
                    answer: dict[str, Any] = make_request().execute(num_retries=0)
                return answer
            except HttpError as exc:
                failure = self._classify(exc)
                if failure is None:
                    raise
            except RefreshError as exc:
                failure = self._refresh_failure(exc)
            except _TRANSPORT_ERRORS as exc:
                failure = Failure("transport", f"{type(exc).__name__}: {exc}")
            if not idempotent and failure.kind != "rate_limited":
                raise SendOutcomeUnknown(f"{operation}: {failure.detail}; outcome unknown")
            retry += 1
            limited = int(failure.kind == "rate_limited")
            self._back_off(operation, retry, failure, 1, limited)

    def _batch(
        self, ids: list[str], format: str, metadata_headers: Sequence[str] | None
    ) -> tuple[dict[str, Any], Failure | None]:
        """Send one batch of messages.get; answers by id (resource or HttpError).

        An empty dict with a Failure: the batch request itself failed.
        """
        answers: dict[str, Any] = {}

        def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
            answers[request_id] = exception if exception is not None else response

        batch = self.service.new_batch_http_request(callback=collect)
        messages = self.users.messages()
        for mid in ids:
            self.bucket.take(COSTS["messages.get"])  # each call in a batch is charged
            request = messages.get(
                userId="me", id=mid, format=format, metadataHeaders=metadata_headers
            )
            batch.add(request, request_id=mid)
        self.stats.charged(len(ids), COSTS["messages.get"] * len(ids))
        try:
            with self.stats.in_flight():
                batch.execute()
        except HttpError as exc:  # the batch itself was refused
            failure = self._classify(exc) or Failure("server", f"batch: {exc.resp.status}")
            return {}, failure
        except RefreshError as exc:
            return {}, self._refresh_failure(exc)
        except _TRANSPORT_ERRORS as exc:
            return {}, Failure("transport", f"{type(exc).__name__}: {exc}")
        return answers, None

    def _batch_of(
        self, operation: str, ids: list[str], make_request: Callable[[str], Any]
    ) -> tuple[dict[str, Any], Failure | None]:
        """One batch of `operation`, a call per id; answers by id (resource or HttpError),
        or an empty dict with a Failure when the batch request itself failed."""
        answers: dict[str, Any] = {}

        def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
            answers[request_id] = exception if exception is not None else response

        batch = self.service.new_batch_http_request(callback=collect)
        cost = COSTS[operation]
        for call_id in ids:
            self.bucket.take(cost)  # each call in a batch is charged
            batch.add(make_request(call_id), request_id=call_id)
        self.stats.charged(len(ids), cost * len(ids))
        try:
            with self.stats.in_flight():
                batch.execute()
        except HttpError as exc:
            return {}, self._classify(exc) or Failure("server", f"batch: {exc.resp.status}")
        except RefreshError as exc:
            return {}, self._refresh_failure(exc)
        except _TRANSPORT_ERRORS as exc:
            return {}, Failure("transport", f"{type(exc).__name__}: {exc}")
        return answers, None

    def _classify(self, exc: HttpError) -> Failure | None:
        """A retryable failure, or None when retrying cannot help."""
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

    def _back_off(
        self, operation: str, retry: int, failure: Failure, calls: int, rate_limited: int
    ) -> None:
        """Sleep before retry number `retry`, or raise GmailUnavailable when out of tries."""
        now = self.clock.now()
        if rate_limited:
            self.bucket.drain()
        retry_at = now + timedelta(seconds=failure.wait) if failure.wait is not None else None
        if failure.wait is not None and failure.wait > self.policy.max_wait:
            self.stats.failed(0, rate_limited, 0.0, gave_up=True)
            raise GmailUnavailable(f"{operation}: {failure.detail}", retry_at)
        if retry >= self.policy.attempts:
            self.stats.failed(0, rate_limited, 0.0, gave_up=True)
            raise GmailUnavailable(
                f"{operation}: gave up after {retry} attempts: {failure.detail}", retry_at
            )
        if failure.wait is not None:  # Gmail said when: that, plus a little jitter
            delay = failure.wait + self.policy.jitter * self.random()
        else:
            delay = self.policy.backoff(retry, self.random)
        self.stats.failed(calls, rate_limited, delay)
        self.clock.sleep(delay)


def _worse(current: Failure | None, other: Failure) -> Failure:
    """The failure that asks for the longer wait decides the batch's backoff."""
    if current is None or (other.wait or 0) > (current.wait or 0):
        return other
    return current
