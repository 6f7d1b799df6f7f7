"""Gmail API v1 under /gmail/v1/users/{userId}/: routing, auth, quota, handlers.

`GmailApi.handle` serves one call from plain bytes, so a direct HTTP request and
each part of a batch take exactly the same path (auth, faults, quota, handler).
"""

import base64
import binascii
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from werkzeug.datastructures import Headers, MultiDict
from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule

from inboxcrm.sandbox import delivery, resources
from inboxcrm.sandbox.errors import ApiError, bad_request, insufficient_scope, not_found
from inboxcrm.sandbox.faults import Fault, Faults
from inboxcrm.sandbox.labels import Label, is_reserved
from inboxcrm.sandbox.mime import decode_b64url, parse, split_multipart
from inboxcrm.sandbox.oauth import bearer
from inboxcrm.sandbox.quota import Quota
from inboxcrm.sandbox.search import compile_query
from inboxcrm.sandbox.state import Account, Mailbox, State, StoredMessage

G = "https://www.googleapis.com/auth/gmail."
FULL = "https://mail.google.com/"
READ = {FULL, G + "modify", G + "readonly", G + "metadata"}
WRITE = {FULL, G + "modify"}
LABELS = {FULL, G + "modify", G + "labels"}
SEND = {FULL, G + "modify", G + "compose", G + "send"}
INSERT = {FULL, G + "modify", G + "insert"}

_U = "/gmail/v1/users/<user>"
_ROUTES: list[tuple[str, str, str, set[str]]] = [
    ("GET", "/profile", "getProfile", READ),
    ("GET", "/labels", "labels.list", READ | LABELS),
    ("POST", "/labels", "labels.create", LABELS),
    ("GET", "/labels/<id>", "labels.get", READ | LABELS),
    ("PATCH", "/labels/<id>", "labels.patch", LABELS),
    ("PUT", "/labels/<id>", "labels.update", LABELS),
    ("DELETE", "/labels/<id>", "labels.delete", LABELS),
    ("GET", "/messages", "messages.list", READ),
    ("POST", "/messages", "messages.insert", INSERT),
    ("POST", "/messages/send", "messages.send", SEND),
    ("POST", "/messages/import", "messages.import", INSERT),
    ("POST", "/messages/batchModify", "messages.batchModify", WRITE),
    ("GET", "/messages/<id>", "messages.get", READ),
    ("DELETE", "/messages/<id>", "messages.delete", {FULL}),
    ("POST", "/messages/<id>/modify", "messages.modify", WRITE),
    ("POST", "/messages/<id>/trash", "messages.trash", WRITE),
    ("POST", "/messages/<id>/untrash", "messages.untrash", WRITE),
    ("GET", "/messages/<message_id>/attachments/<id>", "messages.attachments.get", READ),
    ("GET", "/threads", "threads.list", READ),
    ("GET", "/threads/<id>", "threads.get", READ),
    ("POST", "/threads/<id>/modify", "threads.modify", WRITE),
    ("POST", "/threads/<id>/trash", "threads.trash", WRITE),
    ("POST", "/threads/<id>/untrash", "threads.untrash", WRITE),
    ("GET", "/history", "history.list", READ),
]
_MAP = Map(
    [Rule(_U + path, endpoint=op, methods=[method]) for method, path, op, _ in _ROUTES]
    + [
        Rule("/upload" + _U + path, endpoint=op, methods=[method])
        for method, path, op, _ in _ROUTES
        if op in ("messages.send", "messages.insert", "messages.import")
    ],
    strict_slashes=False,
)
_SCOPES = {op: scopes for _, _, op, scopes in _ROUTES}
_MAX_PAGE = 500


@dataclass
class ApiRequest:
    method: str
    path: str
    args: MultiDict[str, str]
    headers: Headers
    body: bytes = b""


@dataclass
class ApiResponse:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection without answering


def _json(status: int, data: Any, headers: dict[str, str] | None = None) -> ApiResponse:
    body = json.dumps(data, indent=2, ensure_ascii=False).encode() if data is not None else b""
    return ApiResponse(
        status, body, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
    )


def error(exc: ApiError) -> ApiResponse:
    return _json(exc.code, exc.body(), exc.headers)


@dataclass
class Call:
    """One authenticated call being served."""

    request: ApiRequest
    account: Account
    state: State
    quota: Quota

    @property
    def mailbox(self) -> Mailbox:
        return self.account.mailbox

    def json_body(self) -> dict[str, Any]:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise bad_request("Invalid JSON payload received. Unexpected token.") from exc
        if not isinstance(data, dict):
            raise bad_request("Invalid JSON payload received. Expected an object.")
        return data

    def message(self, mid: str) -> StoredMessage:
        msg = self.mailbox.messages.get(mid)
        if msg is None:
            if not mid or any(c not in "0123456789abcdef" for c in mid.lower()):
                raise bad_request("Invalid id value")
            raise not_found()
        return msg

    def int_arg(self, name: str, default: int, maximum: int) -> int:
        value = self.request.args.get(name)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError as exc:
            raise bad_request(f"Invalid value at '{name}' (TYPE_UINT32), \"{value}\"") from exc
        if number < 0:
            raise bad_request(f"Invalid {name}")
        return min(number or default, maximum)


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
        fault = self.faults.take(operation, request.path, account.email)
        if fault is not None and (answer := apply_fault(fault)) is not None:
            return answer
        params = dict(matched)
        user = params.pop("user")
        if user != "me" and user.lower() != account.email:
            raise ApiError(403, f"Delegation denied for {account.email}", reason="forbidden")
        if not access.scopes & _SCOPES[operation]:
            raise insufficient_scope()
        self.quota.charge(account.email, operation)
        call = Call(request, account, self.state, self.quota)
        with self.state.lock:
            result = _HANDLERS[operation](call, **params)
        return _json(204 if result is None else 200, result)


def apply_fault(fault: Fault) -> ApiResponse | None:
    """The answer a fault forces, or None to carry on (slow faults only delay)."""
    if fault.kind == "drop":
        return ApiResponse(0, b"", drop=True)
    if fault.kind == "slow":
        time.sleep(fault.delay)  # the one real wait in the sandbox, asked for explicitly
        return None
    return error(fault.error())


# -- profile and labels ---------------------------------------------------------------------
def get_profile(call: Call) -> dict[str, Any]:
    mb = call.mailbox
    return {
        "emailAddress": call.account.email,
        "messagesTotal": len(mb.messages),
        "threadsTotal": len(mb.threads),
        "historyId": str(mb.history_id),
    }


def labels_list(call: Call) -> dict[str, Any]:
    return {"labels": [lb.resource() for lb in call.mailbox.labels.values()]}


def _label(call: Call, label_id: str) -> Label:
    label = call.mailbox.labels.get(label_id)
    if label is None:
        raise not_found()
    return label


def labels_get(call: Call, id: str) -> dict[str, Any]:
    _label(call, id)
    return resources.label_detail(call.mailbox, id)


def _apply_label_fields(call: Call, label: Label, body: dict[str, Any]) -> None:
    name = body.get("name", label.name)
    if not isinstance(name, str) or not name.strip() or len(name) > 225 or is_reserved(name):
        raise bad_request("Invalid label name")
    other = call.mailbox.label_by_name(name.strip())
    if other is not None and other.id != label.id:
        raise ApiError(409, "Label name exists or conflicts")
    label.name = name.strip()
    if "messageListVisibility" in body:
        label.message_list_visibility = _choice(body, "messageListVisibility", ("show", "hide"))
    if "labelListVisibility" in body:
        label.label_list_visibility = _choice(
            body, "labelListVisibility", ("labelShow", "labelShowIfUnread", "labelHide")
        )
    if "color" in body:
        color = body["color"]
        if not isinstance(color, dict) or not {"textColor", "backgroundColor"} <= color.keys():
            raise bad_request("Invalid label color")
        label.color = {k: str(color[k]) for k in ("textColor", "backgroundColor")}


def _choice(body: dict[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = body[key]
    if value not in allowed:
        raise bad_request(f"Invalid value at 'label.{key}' (TYPE_ENUM), \"{value}\"")
    return str(value)


def labels_create(call: Call) -> dict[str, Any]:
    body = call.json_body()
    if "name" not in body:
        raise bad_request("Invalid label name")
    label = Label(id="", name="")
    _apply_label_fields(call, label, body)
    label.id = call.mailbox.new_label_id()
    call.mailbox.labels[label.id] = label
    return label.resource()


def labels_patch(call: Call, id: str) -> dict[str, Any]:
    label = _label(call, id)
    if label.type == "system":
        raise bad_request("Invalid update request")
    _apply_label_fields(call, label, call.json_body())
    return label.resource()


def labels_delete(call: Call, id: str) -> None:
    label = _label(call, id)
    if label.type == "system":
        raise bad_request("Invalid delete request")
    for msg in list(call.mailbox.messages.values()):
        if id in msg.label_ids:
            call.mailbox.modify(msg, set(), {id})
    del call.mailbox.labels[id]


# -- listing --------------------------------------------------------------------------------
def _page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o{offset:010d}".encode()).decode().rstrip("=")


def _offset(call: Call) -> int:
    token = call.request.args.get("pageToken")
    if not token:
        return 0
    try:
        text = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
        if text[0] != "o":
            raise ValueError(text)
        return int(text[1:])
    except (ValueError, IndexError, binascii.Error, UnicodeDecodeError) as exc:
        raise bad_request("Invalid pageToken") from exc


def _label_ids_arg(call: Call) -> set[str]:
    wanted = set(call.request.args.getlist("labelIds"))
    for label_id in wanted:
        if label_id not in call.mailbox.labels:
            raise bad_request(f"Invalid label: {label_id}")
    return wanted


def _matching(call: Call) -> list[StoredMessage]:
    """Messages that pass labelIds, q and the spam/trash default, newest first."""
    mb = call.mailbox
    wanted = _label_ids_arg(call)
    predicate, reaches = compile_query(call.request.args.get("q", ""), mb, call.state.clock.now())
    include_all = reaches or call.request.args.get("includeSpamTrash", "false") == "true"
    hidden = set() if include_all else {"SPAM", "TRASH"} - wanted
    return sorted(
        (
            m
            for m in mb.messages.values()
            if wanted <= m.label_ids and not (hidden & m.label_ids) and predicate(m)
        ),
        key=lambda m: (m.internal_date, m.id),
        reverse=True,
    )


def _paginate(call: Call, items: list[Any], key: str) -> dict[str, Any]:
    size = call.int_arg("maxResults", 100, _MAX_PAGE)
    start = _offset(call)
    page = items[start : start + size]
    out: dict[str, Any] = {}
    if page:
        out[key] = page
    if start + size < len(items):
        out["nextPageToken"] = _page_token(start + size)
    out["resultSizeEstimate"] = len(items)
    return out


def messages_list(call: Call) -> dict[str, Any]:
    refs = [{"id": m.id, "threadId": m.thread_id} for m in _matching(call)]
    return _paginate(call, refs, "messages")


def threads_list(call: Call) -> dict[str, Any]:
    mb = call.mailbox
    seen: dict[str, None] = {}
    for msg in _matching(call):
        seen.setdefault(msg.thread_id, None)
    threads = [
        {
            "id": tid,
            "snippet": mb.messages[mb.threads[tid][-1]].parsed.snippet,
            "historyId": str(mb.thread_history_id(tid)),
        }
        for tid in seen
    ]
    return _paginate(call, threads, "threads")


# -- messages -------------------------------------------------------------------------------
def messages_get(call: Call, id: str) -> dict[str, Any]:
    fmt = resources.check_format(call.request.args.get("format", "full"))
    headers = call.request.args.getlist("metadataHeaders")
    return resources.message(call.message(id), fmt, headers)


def attachments_get(call: Call, message_id: str, id: str) -> dict[str, Any]:
    data = call.message(message_id).parsed.attachments.get(id)
    if data is None:
        raise not_found()
    return {"attachmentId": id, "size": len(data), "data": base64.urlsafe_b64encode(data).decode()}


def _raw_and_meta(call: Call) -> tuple[bytes, dict[str, Any]]:
    """The RFC 822 bytes and JSON metadata, from a JSON body or a media/multipart upload."""
    req = call.request
    upload = req.args.get("uploadType")
    if req.path.startswith("/upload/") and upload in ("media", "multipart"):
        if upload == "media":
            return req.body, {}
        parts = split_multipart(req.headers.get("Content-Type", ""), req.body)
        if not parts or len(parts) != 2:
            raise bad_request("Invalid multipart request")
        (_, meta_bytes), (_, raw) = parts
        call.request = ApiRequest(req.method, req.path, req.args, req.headers, meta_bytes)
        return raw, call.json_body()
    body = call.json_body()
    raw_text = body.get("raw")
    if not raw_text or not isinstance(raw_text, str):
        raise bad_request(
            "'raw' RFC822 payload message string or uploading message via /upload/* URL required"
        )
    return decode_b64url(raw_text), body


def _labels_arg(call: Call, ids: Any) -> set[str]:
    if ids is None:
        return set()
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad_request("Invalid label ids")
    for label_id in ids:
        if label_id not in call.mailbox.labels:
            raise bad_request(f"Invalid label: {label_id}")
    return set(ids)


def messages_send(call: Call) -> dict[str, Any]:
    raw, meta = _raw_and_meta(call)
    thread_id = meta.get("threadId")
    sent = delivery.send(call.state, call.quota, call.account, raw, thread_id)
    return {"id": sent.id, "threadId": sent.thread_id, "labelIds": sent.label_list()}


def _store(call: Call, default_source: str) -> dict[str, Any]:
    raw, meta = _raw_and_meta(call)
    labels = _labels_arg(call, meta.get("labelIds"))
    source = call.request.args.get("internalDateSource", default_source)
    when = None
    if source == "dateHeader":
        try:
            date = parse(raw).header("date")
            when = int(parsedate_to_datetime(date).timestamp() * 1000) if date else None
        except (TypeError, ValueError):
            when = None
    thread_id = meta.get("threadId")
    tid = call.mailbox.find_thread(parse(raw), within=thread_id) if thread_id else None
    msg = call.mailbox.add(raw, labels, internal_date=when, thread_id=tid)
    return {"id": msg.id, "threadId": msg.thread_id, "labelIds": msg.label_list()}


def messages_insert(call: Call) -> dict[str, Any]:
    return _store(call, "receivedTime")


def messages_import(call: Call) -> dict[str, Any]:
    return _store(call, "dateHeader")


def _modify_body(call: Call, body: dict[str, Any]) -> tuple[set[str], set[str]]:
    return _labels_arg(call, body.get("addLabelIds")), _labels_arg(call, body.get("removeLabelIds"))


def messages_modify(call: Call, id: str) -> dict[str, Any]:
    msg = call.message(id)
    add, remove = _modify_body(call, call.json_body())
    call.mailbox.modify(msg, add, remove)
    return resources.label_ref(msg)


def messages_batch_modify(call: Call) -> None:
    body = call.json_body()
    ids = body.get("ids")
    if not isinstance(ids, list) or not ids or len(ids) > 1000:
        raise bad_request("Invalid ids")
    add, remove = _modify_body(call, body)
    for mid in ids:
        msg = call.mailbox.messages.get(str(mid))
        if msg is not None:
            call.mailbox.modify(msg, add, remove)


def messages_trash(call: Call, id: str) -> dict[str, Any]:
    msg = call.message(id)
    call.mailbox.modify(msg, {"TRASH"}, {"INBOX", "SPAM"})
    return resources.label_ref(msg)


def messages_untrash(call: Call, id: str) -> dict[str, Any]:
    msg = call.message(id)
    call.mailbox.modify(msg, set(), {"TRASH"})
    return resources.label_ref(msg)


def messages_delete(call: Call, id: str) -> None:
    call.mailbox.delete(call.message(id))


# -- threads --------------------------------------------------------------------------------
def _thread(call: Call, tid: str) -> list[StoredMessage]:
    ids = call.mailbox.threads.get(tid)
    if ids is None:
        if not tid or any(c not in "0123456789abcdef" for c in tid.lower()):
            raise bad_request("Invalid id value")
        raise not_found()
    return [call.mailbox.messages[m] for m in ids]


def threads_get(call: Call, id: str) -> dict[str, Any]:
    _thread(call, id)
    fmt = resources.check_format(call.request.args.get("format", "full"))
    if fmt == "raw":
        raise bad_request("Invalid format: RAW is not supported for threads")
    return resources.thread(call.mailbox, id, fmt, call.request.args.getlist("metadataHeaders"))


def _thread_change(call: Call, tid: str, add: set[str], remove: set[str]) -> dict[str, Any]:
    msgs = _thread(call, tid)
    for msg in msgs:
        call.mailbox.modify(msg, add, remove)
    return {
        "id": tid,
        "historyId": str(call.mailbox.thread_history_id(tid)),
        "messages": [resources.label_ref(m) for m in msgs],
    }


def threads_modify(call: Call, id: str) -> dict[str, Any]:
    _thread(call, id)
    add, remove = _modify_body(call, call.json_body())
    return _thread_change(call, id, add, remove)


def threads_trash(call: Call, id: str) -> dict[str, Any]:
    return _thread_change(call, id, {"TRASH"}, {"INBOX", "SPAM"})


def threads_untrash(call: Call, id: str) -> dict[str, Any]:
    return _thread_change(call, id, set(), {"TRASH"})


# -- history --------------------------------------------------------------------------------
HISTORY_TYPES = ("messageAdded", "messageDeleted", "labelAdded", "labelRemoved")


def history_list(call: Call) -> dict[str, Any]:
    args = call.request.args
    mb = call.mailbox
    start_text = args.get("startHistoryId")
    if not start_text:
        raise bad_request("Required parameter: startHistoryId")
    if not start_text.isdigit():
        raise bad_request(f"Invalid value at 'start_history_id' (TYPE_UINT64), \"{start_text}\"")
    start = int(start_text)
    if start < mb.expired_before():
        raise not_found()
    types = set(args.getlist("historyTypes")) or set(HISTORY_TYPES)
    if not types <= set(HISTORY_TYPES):
        raise bad_request("Invalid value at 'history_types' (TYPE_ENUM)")
    label_id = args.get("labelId")
    if label_id and label_id not in mb.labels:
        raise bad_request(f"Invalid label: {label_id}")
    size = call.int_arg("maxResults", 100, _MAX_PAGE)
    after = max(start, _offset(call))
    records = [
        rec
        for rec in mb.history
        if rec.id > after
        and rec.kind in types
        and (not label_id or label_id in rec.label_ids or label_id in rec.changed)
    ]
    out: dict[str, Any] = {}
    if records[:size]:
        out["history"] = [rec.resource() for rec in records[:size]]
    if len(records) > size:
        out["nextPageToken"] = _page_token(records[size - 1].id)
    out["historyId"] = str(mb.history_id)
    return out


_HANDLERS: dict[str, Callable[..., Any]] = {
    "getProfile": get_profile,
    "labels.list": labels_list,
    "labels.get": labels_get,
    "labels.create": labels_create,
    "labels.patch": labels_patch,
    "labels.update": labels_patch,
    "labels.delete": labels_delete,
    "messages.list": messages_list,
    "messages.get": messages_get,
    "messages.attachments.get": attachments_get,
    "messages.send": messages_send,
    "messages.insert": messages_insert,
    "messages.import": messages_import,
    "messages.modify": messages_modify,
    "messages.batchModify": messages_batch_modify,
    "messages.trash": messages_trash,
    "messages.untrash": messages_untrash,
    "messages.delete": messages_delete,
    "threads.list": threads_list,
    "threads.get": threads_get,
    "threads.modify": threads_modify,
    "threads.trash": threads_trash,
    "threads.untrash": threads_untrash,
    "history.list": history_list,
}
