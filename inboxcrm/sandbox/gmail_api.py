"""Gmail API v1 under /gmail/v1/users/{userId}/: routing, auth, faults, quota.

`GmailApi.handle` serves one call from plain bytes, so a direct HTTP request and
each part of a batch take exactly the same path (auth, faults, quota, handler).
"""

import time
from collections.abc import Callable
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from inboxcrm.sandbox.api import drafts, history, labels, messages, threads
from inboxcrm.sandbox.api.call import ApiRequest, ApiResponse, Call, error, json_answer
from inboxcrm.sandbox.errors import ApiError, insufficient_scope
from inboxcrm.sandbox.faults import Fault, Faults
from inboxcrm.sandbox.oauth import bearer
from inboxcrm.sandbox.quota import Quota
from inboxcrm.sandbox.state import State

G = "https://www.googleapis.com/auth/gmail."
FULL = "https://mail.google.com/"
READ = {FULL, G + "modify", G + "readonly", G + "metadata"}
WRITE = {FULL, G + "modify"}
LABELS = {FULL, G + "modify", G + "labels"}
SEND = {FULL, G + "modify", G + "compose", G + "send"}
INSERT = {FULL, G + "modify", G + "insert"}
UPLOADS = ("messages.send", "messages.insert", "messages.import", "drafts.create", "drafts.send")

Handler = Callable[..., Any]
# (HTTP method, path under /users/{userId}, Gmail method name, scopes that allow it, handler)
_ROUTES: list[tuple[str, str, str, set[str], Handler]] = [
    ("GET", "/profile", "getProfile", READ, labels.get_profile),
    ("GET", "/labels", "labels.list", READ | LABELS, labels.labels_list),
    ("POST", "/labels", "labels.create", LABELS, labels.labels_create),
    ("GET", "/labels/<id>", "labels.get", READ | LABELS, labels.labels_get),
    ("PATCH", "/labels/<id>", "labels.patch", LABELS, labels.labels_patch),
    ("PUT", "/labels/<id>", "labels.update", LABELS, labels.labels_patch),
    ("DELETE", "/labels/<id>", "labels.delete", LABELS, labels.labels_delete),
    ("GET", "/messages", "messages.list", READ, messages.messages_list),
    ("POST", "/messages", "messages.insert", INSERT, messages.messages_insert),
    ("POST", "/messages/send", "messages.send", SEND, messages.messages_send),
    ("POST", "/messages/import", "messages.import", INSERT, messages.messages_import),
    ("POST", "/messages/batchModify", "messages.batchModify", WRITE,
     messages.messages_batch_modify),
    ("GET", "/messages/<id>", "messages.get", READ, messages.messages_get),
    ("DELETE", "/messages/<id>", "messages.delete", {FULL}, messages.messages_delete),
    ("POST", "/messages/<id>/modify", "messages.modify", WRITE, messages.messages_modify),
    ("POST", "/messages/<id>/trash", "messages.trash", WRITE, messages.messages_trash),
    ("POST", "/messages/<id>/untrash", "messages.untrash", WRITE, messages.messages_untrash),
    ("GET", "/messages/<message_id>/attachments/<id>", "messages.attachments.get", READ,
     messages.attachments_get),
    ("GET", "/drafts", "drafts.list", READ, drafts.drafts_list),
    ("POST", "/drafts", "drafts.create", SEND, drafts.drafts_create),
    ("POST", "/drafts/send", "drafts.send", SEND, drafts.drafts_send),
    ("GET", "/drafts/<id>", "drafts.get", READ, drafts.drafts_get),
    ("DELETE", "/drafts/<id>", "drafts.delete", SEND, drafts.drafts_delete),
    ("GET", "/threads", "threads.list", READ, threads.threads_list),
    ("GET", "/threads/<id>", "threads.get", READ, threads.threads_get),
    ("POST", "/threads/<id>/modify", "threads.modify", WRITE, threads.threads_modify),
    ("POST", "/threads/<id>/trash", "threads.trash", WRITE, threads.threads_trash),
    ("POST", "/threads/<id>/untrash", "threads.untrash", WRITE, threads.threads_untrash),
    ("GET", "/history", "history.list", READ, history.history_list),
]  # fmt: skip
_U = "/gmail/v1/users/<user>"
_MAP = Map(
    [Rule(_U + path, endpoint=op, methods=[method]) for method, path, op, *_ in _ROUTES]
    + [
        Rule("/upload" + _U + path, endpoint=op, methods=[method])
        for method, path, op, *_ in _ROUTES
        if op in UPLOADS
    ],
    strict_slashes=False,
)
_SCOPES = {op: scopes for _, _, op, scopes, _ in _ROUTES}
_HANDLERS = {op: handler for _, _, op, _, handler in _ROUTES}


class GmailApi:
    def __init__(self, state: State, quota: Quota, faults: Faults) -> None:
        self.state = state
        self.quota = quota
        self.faults = faults
        self._adapter = _MAP.bind("sandbox")

    def handle(self, request: ApiRequest) -> ApiResponse:
        try:
            return self._handle(request)
        except ApiError as exc:
            return error(exc)
        except Exception:  # never a traceback on the wire; Gmail answers 500 then
            return error(ApiError(500, "Backend Error", reason="backendError"))

    def _handle(self, request: ApiRequest) -> ApiResponse:
        try:
            operation, matched = self._adapter.match(request.path, method=request.method)
        except MethodNotAllowed:
            raise ApiError(405, "Method Not Allowed", reason="httpMethodNotAllowed") from None
        except NotFound:
            raise ApiError(404, f"Not Found: {request.path}", reason="notFound") from None
        access = bearer(self.state, request.headers.get("Authorization"))
        account = self.state.accounts[access.email]
        with self.quota.answering(account.email):
            return self._answer(request, operation, dict(matched), access, account)

    def _answer(
        self, request: ApiRequest, operation: str, params: dict[str, Any], access: Any, account: Any
    ) -> ApiResponse:
        fault = self.faults.take(operation, request.path, account.email)
        if fault is not None and not fault.after and (answer := apply_fault(fault)) is not None:
            return answer
        user = params.pop("user")
        if user != "me" and user.lower() != account.email:
            raise ApiError(403, f"Delegation denied for {account.email}", reason="forbidden")
        if not access.scopes & _SCOPES[operation]:
            raise insufficient_scope()
        self.quota.charge(account.email, operation)
        call = Call(request, account, self.state, self.quota)
        with self.state.lock:
            result = _HANDLERS[operation](call, **params)
        if fault is not None and fault.after:  # done; the answer is lost or comes late
            lost = apply_fault(fault)
            if lost is not None:
                return lost
        return json_answer(204 if result is None else 200, result)


def apply_fault(fault: Fault) -> ApiResponse | None:
    """The answer a fault forces, or None to carry on (slow faults only delay)."""
    if fault.kind == "drop":
        return ApiResponse(0, b"", drop=True)
    if fault.kind == "slow":
        time.sleep(fault.delay)  # the one real wait in the sandbox, asked for explicitly
        return None
    return error(fault.error())
