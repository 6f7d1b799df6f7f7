"""One mailbox's Gmail calls: paced by its quota bucket, retried on our terms.

Every request runs with `num_retries=0`: retry.py decides what to send again, since the
client library's retries ignore "Retry after" and would resend a messages.send. A
`GmailCalls` wraps one service built by `build_gmail`; httplib2 is not thread-safe, so
build one per thread and share the mailbox's `TokenBucket` and `CallStats` between them.
"""

from __future__ import annotations

import base64
import random as _random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from googleapiclient.errors import HttpError

from inboxcrm.gmail.client import users_of
from inboxcrm.gmail.pacing import Clock, TokenBucket
from inboxcrm.gmail.results import Fetched, Modified, Page
from inboxcrm.gmail.retry import (
    RATE_LIMIT_REASONS,
    CallStats,
    Failure,
    GmailError,
    GmailUnavailable,
    GrantRevoked,
    Retries,
    RetryPolicy,
    SendOutcomeUnknown,
    error_info,
    is_invalid_grant,
)

__all__ = [
    "COSTS",
    "MAX_BATCH",
    "RATE_LIMIT_REASONS",
    "CallStats",
    "DraftGone",
    "Failure",
    "Fetched",
    "GmailCalls",
    "GmailError",
    "GmailUnavailable",
    "GrantRevoked",
    "HistoryExpired",
    "LabelExists",
    "Modified",
    "Page",
    "Refused",
    "RetryPolicy",
    "SendOutcomeUnknown",
    "error_info",
    "is_invalid_grant",
]

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
    "drafts.create": 10,
    "drafts.list": 5,
    "drafts.delete": 10,
    "drafts.send": 100,
}
MAX_BATCH = 50  # Gmail takes 100 per batch; it advises 50 and larger ones trip limits


class HistoryExpired(GmailError):
    """history.list answered 404: the start id is too old, a full sync is needed."""


class DraftGone(GmailError):
    """drafts.send answered 404: the draft is no longer there. Sent already (an earlier
    answer was lost), or deleted by its owner: the mailbox says which."""


class Refused(GmailError):
    """Gmail refused a draft or a send outright (a 4xx: a malformed recipient, a thread that
    is gone): it was not sent, and sending it again would be refused again."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status} {message}".strip())
        self.status = status


def _refused(exc: HttpError) -> Refused:
    return Refused(exc.resp.status, error_info(exc)[1])


class LabelExists(GmailError):
    """labels.create answered 409: a label of that name exists (names compare
    case-insensitively)."""


def _as_text(response: Any, content: bytes | str) -> bytes | str:
    """An answer's body as the JSON text it is (the client library would decode it)."""
    return content


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
        http: Any = None,
    ) -> None:
        """`http`, when given, carries every call (a mailbox's authorized http over a shared
        service); otherwise the service's own does."""
        if not 1 <= batch_size <= 100:
            raise ValueError("a Gmail batch holds 1 to 100 calls")
        self.service = service
        self.users = users_of(service)
        self.http = http
        self.bucket = bucket
        self.clock = clock or bucket.clock
        self.policy = policy or RetryPolicy()
        self.random = random
        self.stats = stats or CallStats()
        self.batch_size = batch_size
        self.retries = Retries(bucket, self.clock, self.policy, random, self.stats)

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
        batches; only the calls that failed go again. Adding and removing labels is
        idempotent, so a retried call is safe."""
        done = Modified()
        threads = self.users.threads()

        def request(thread_id: str) -> Any:
            add, remove = changes[thread_id]
            body = {"addLabelIds": list(add), "removeLabelIds": list(remove)}
            return threads.modify(userId="me", id=thread_id, body=body)

        def settle(thread_id: str, outcome: Any) -> None:
            if isinstance(outcome, HttpError):
                done.failed[thread_id] = (outcome.resp.status, error_info(outcome)[1])
            else:
                done.threads[thread_id] = outcome

        self._batched("threads.modify", list(changes), request, settle)
        return done

    def labels(self) -> list[dict[str, Any]]:
        """Every label of the mailbox, system and user ones (1 unit)."""
        answer = self._call("labels.list", lambda: self.users.labels().list(userId="me"))
        return list(answer.get("labels", []))

    def create_label(self, name: str) -> dict[str, Any]:
        """A user label; LabelExists when one of that name does."""
        body = {"name": name, "labelListVisibility": "labelShow", "messageListVisibility": "show"}
        try:
            return self._call(
                "labels.create", lambda: self.users.labels().create(userId="me", body=body)
            )
        except HttpError as exc:
            if exc.resp.status == 409:
                raise LabelExists(f"Gmail has a label named {name!r}") from exc
            raise

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

    def create_draft(self, raw_bytes: bytes, thread_id: str | None = None) -> dict[str, Any]:
        """A draft of an RFC 5322 message: {"id", "message": {"id", "threadId"}}. Creating
        one delivers nothing, but a lost answer leaves a draft we do not know of, so
        that raises SendOutcomeUnknown (find the draft by its token header)."""
        message: dict[str, Any] = {"raw": base64.urlsafe_b64encode(raw_bytes).decode("ascii")}
        if thread_id:
            message["threadId"] = thread_id
        try:
            return self._call(
                "drafts.create",
                lambda: self.users.drafts().create(userId="me", body={"message": message}),
                idempotent=False,
            )
        except HttpError as exc:
            raise _refused(exc) from exc

    def send_draft(self, draft_id: str) -> dict[str, Any]:
        """Send a draft; its message: {"id", "threadId", "labelIds"}. Retried like any
        call: Gmail deletes a draft it sent, so sending one twice is impossible; a send
        whose answer was lost comes back as DraftGone on the retry."""
        try:
            return self._call(
                "drafts.send",
                lambda: self.users.drafts().send(userId="me", body={"id": draft_id}),
            )
        except HttpError as exc:
            if exc.resp.status == 404:
                raise DraftGone(f"draft {draft_id} is gone") from exc
            raise _refused(exc) from exc

    def delete_draft(self, draft_id: str) -> None:
        try:
            self._call(
                "drafts.delete", lambda: self.users.drafts().delete(userId="me", id=draft_id)
            )
        except HttpError as exc:
            if exc.resp.status != 404:  # gone already: what we wanted
                raise

    def list_drafts(self, q: str, max_results: int = 100) -> list[dict[str, Any]]:
        """Drafts whose message matches `q`: [{"id", "message": {"id", "threadId"}}]."""
        answer = self._call(
            "drafts.list",
            lambda: self.users.drafts().list(userId="me", q=q, maxResults=max_results),
        )
        return list(answer.get("drafts", []))

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
        as_text: bool = False,
    ) -> Fetched:
        """Fetch messages through batches; only the calls that failed go again. A 404
        means the message vanished since listing. `as_text`: each message is the JSON
        text Gmail answered with, not decoded here (the caller decodes it, in another
        process perhaps)."""
        fetched = Fetched({}, [], {})
        messages = self.users.messages()

        def request(mid: str) -> Any:
            call = messages.get(
                userId="me", id=mid, format=format, metadataHeaders=metadata_headers
            )
            if as_text:
                call.postproc = _as_text
            return call

        def settle(mid: str, outcome: Any) -> None:
            if not isinstance(outcome, HttpError):
                fetched.messages[mid] = outcome
            elif outcome.resp.status == 404:
                fetched.vanished.append(mid)
            else:
                fetched.failed[mid] = f"{outcome.resp.status} {error_info(outcome)[1]}"

        try:
            self._batched("messages.get", ids, request, settle)
        except GmailUnavailable as exc:
            exc.fetched = fetched  # what the earlier batches fetched is kept
            raise
        return fetched

    # --- single calls and batches, both through the one retry loop -----------------

    def _call(
        self, operation: str, make_request: Callable[[], Any], idempotent: bool = True
    ) -> dict[str, Any]:
        """One call, paced and retried. Non-retryable HttpErrors are raised as they are."""
        answers: list[dict[str, Any]] = []

        def attempt(todo: list[str]) -> dict[str, Failure]:
            self._charge(operation)
            answer, failure = self.retries.execute(
                lambda: make_request().execute(http=self.http, num_retries=0)
            )
            if failure is None:
                answers.append(answer)
                return {}
            if not idempotent and failure.kind != "rate_limited":
                raise SendOutcomeUnknown(
                    f"{operation}: {failure.detail}; outcome unknown", kind=failure.kind
                )
            return {operation: failure}

        self.retries.run(operation, [operation], attempt)
        return answers[0]

    def _batched(
        self,
        operation: str,
        ids: Sequence[str],
        make_request: Callable[[str], Any],
        settle: Callable[[str, Any], None],
    ) -> None:
        """`operation` once per id, through batches of at most `batch_size` calls. Calls
        that failed for a reason worth retrying go again (only those); `settle` gets every
        other answer: the resource, or the HttpError Gmail refused that call with."""

        def attempt(todo: list[str]) -> dict[str, Failure]:
            return self._send_batch(operation, todo, make_request, settle)

        unique = list(dict.fromkeys(ids))  # a batch refuses two calls of one id
        for start in range(0, len(unique), self.batch_size):
            self.retries.run(operation, unique[start : start + self.batch_size], attempt)

    def _send_batch(
        self,
        operation: str,
        todo: list[str],
        make_request: Callable[[str], Any],
        settle: Callable[[str, Any], None],
    ) -> dict[str, Failure]:
        """One batch request of a call per id; the calls to send again, with why."""
        answers: dict[str, Any] = {}

        def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
            answers[request_id] = exception if exception is not None else response

        batch = self.service.new_batch_http_request(callback=collect)
        for call_id in todo:
            self._charge(operation)  # each call in a batch is charged
            request = make_request(call_id)
            if self.http is not None:  # a batch signs each inner call with the call's own http
                request.http = self.http
            batch.add(request, request_id=call_id)
        _, failure = self.retries.execute(lambda: batch.execute(http=self.http))
        if failure is not None:  # the batch itself failed: every call goes again
            return dict.fromkeys(todo, failure)
        again: dict[str, Failure] = {}
        for call_id in todo:
            outcome = answers[call_id]
            why = self.retries.classify(outcome) if isinstance(outcome, HttpError) else None
            if why is None:
                settle(call_id, outcome)
            else:
                again[call_id] = why
        return again

    def _charge(self, operation: str) -> None:
        """Take one call's units from the bucket, waiting if it is short, and count them."""
        cost = COSTS[operation]
        self.bucket.take(cost)
        self.stats.charged(1, cost)
