"""One authenticated Gmail call: request, answer, and the argument parsing they share."""

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import Headers, MultiDict

from inboxcrm.sandbox.errors import ApiError, bad_request, not_found
from inboxcrm.sandbox.mime import split_multipart
from inboxcrm.sandbox.quota import Quota
from inboxcrm.sandbox.state import Account, Mailbox, State, StoredMessage


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


def json_answer(status: int, data: Any, headers: dict[str, str] | None = None) -> ApiResponse:
    body = json.dumps(data, indent=2, ensure_ascii=False).encode() if data is not None else b""
    return ApiResponse(
        status, body, {"Content-Type": "application/json; charset=UTF-8", **(headers or {})}
    )


def error(exc: ApiError) -> ApiResponse:
    return json_answer(exc.code, exc.body(), exc.headers)


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


def label_ids(call: Call, ids: Any) -> set[str]:
    if ids is None:
        return set()
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise bad_request("Invalid label ids")
    for label_id in ids:
        if label_id not in call.mailbox.labels:
            raise bad_request(f"Invalid label: {label_id}")
    return set(ids)


def modify_labels(call: Call, body: dict[str, Any]) -> tuple[set[str], set[str]]:
    return label_ids(call, body.get("addLabelIds")), label_ids(call, body.get("removeLabelIds"))


def uploaded(call: Call) -> tuple[bytes, dict[str, Any]] | None:
    """The RFC 822 bytes and JSON metadata of a media or multipart upload (`/upload/...`),
    or None when the call carries its message as JSON."""
    req = call.request
    upload = req.args.get("uploadType")
    if not req.path.startswith("/upload/") or upload not in ("media", "multipart"):
        return None
    if upload == "media":
        return req.body, {}
    parts = split_multipart(req.headers.get("Content-Type", ""), req.body)
    if not parts or len(parts) != 2:
        raise bad_request("Invalid multipart request")
    (_, meta_bytes), (_, raw) = parts
    call.request = ApiRequest(req.method, req.path, req.args, req.headers, meta_bytes)
    return raw, call.json_body()
