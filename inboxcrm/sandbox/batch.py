"""POST /batch: multipart/mixed in, multipart/mixed out, as googleapiclient expects.

Each part is an ``application/http`` request; the answer carries, in order, one
``application/http`` response per part with ``Content-ID: <response-ID>``.
"""

import secrets
from email import message_from_bytes, policy
from email.message import Message
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import Headers, MultiDict

from inboxcrm.sandbox.errors import ApiError, bad_request
from inboxcrm.sandbox.gmail_api import ApiRequest, ApiResponse, GmailApi, error

MAX_CALLS = 100


def handle_batch(api: GmailApi, content_type: str, body: bytes) -> ApiResponse:
    if not content_type.startswith("multipart/mixed"):
        return error(bad_request("Content-Type must be multipart/mixed"))
    envelope = message_from_bytes(
        f"Content-Type: {content_type}\r\n\r\n".encode() + body, policy=policy.compat32
    )
    parts = envelope.get_payload()
    if not isinstance(parts, list) or not parts:
        return error(bad_request("Invalid multipart request: no parts"))
    if len(parts) > MAX_CALLS:
        return error(bad_request(f"Too many requests in batch, max is {MAX_CALLS}"))
    boundary = "batch_" + secrets.token_urlsafe(12)
    chunks: list[bytes] = []
    for part in parts:
        if not isinstance(part, Message):
            return error(bad_request("Invalid multipart request"))
        response = _answer(api, part)
        content_id = part.get("Content-ID", "").strip().strip("<>")
        chunks.append(_serialize(boundary, content_id, response))
    chunks.append(f"--{boundary}--\r\n".encode())
    return ApiResponse(
        200, b"".join(chunks), {"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )


def _answer(api: GmailApi, part: Message) -> ApiResponse:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return error(bad_request("Invalid batch part"))
    request = parse_http_request(payload)
    if request is None:
        return error(bad_request("Invalid batch part"))
    response = api.handle(request)
    if response.drop:  # a call cannot drop alone inside a batch: it fails with a 503
        return error(ApiError(503, "The service is currently unavailable."))
    return response


def parse_http_request(data: bytes) -> ApiRequest | None:
    """`GET /path?q HTTP/1.1`, headers, blank line, body."""
    head, _, body = data.replace(b"\r\n", b"\n").partition(b"\n\n")
    lines = head.decode("latin-1").split("\n")
    try:
        method, target, _version = lines[0].split(" ", 2)
    except ValueError:
        return None
    headers = Headers()
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers.add(name.strip(), value.strip())
    url = urlsplit(target)
    args = MultiDict(parse_qsl(url.query, keep_blank_values=True))
    if headers.get("Content-Type", "").startswith("application/json"):
        body = body.rstrip(b"\n")
    return ApiRequest(method.upper(), url.path, args, headers, body)


def _serialize(boundary: str, content_id: str, response: ApiResponse) -> bytes:
    reason = HTTPStatus(response.status).phrase if response.status else "Error"
    header_lines = "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
    head = (
        f"--{boundary}\r\nContent-Type: application/http\r\n"
        f"Content-ID: <response-{content_id}>\r\n\r\n"
        f"HTTP/1.1 {response.status} {reason}\r\n{header_lines}"
        f"Content-Length: {len(response.body)}\r\n\r\n"
    )
    return head.encode() + response.body + b"\r\n"
