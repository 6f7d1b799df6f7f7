"""POST /batch: multipart/mixed in, multipart/mixed out, as googleapiclient expects.

Each part is an ``application/http`` request; the answer carries, in order, one
``application/http`` response per part with ``Content-ID: <response-ID>``.
"""

import secrets
from http import HTTPStatus
from urllib.parse import parse_qsl, urlsplit

from werkzeug.datastructures import Headers, MultiDict

from inboxcrm.sandbox.api.call import ApiRequest, ApiResponse, error
from inboxcrm.sandbox.errors import ApiError, bad_request
from inboxcrm.sandbox.gmail_api import GmailApi
from inboxcrm.sandbox.mime import header_lines, split_head, split_multipart

MAX_CALLS = 100


def handle_batch(api: GmailApi, content_type: str, body: bytes) -> ApiResponse:
    if not content_type.startswith("multipart/mixed"):
        return error(bad_request("Content-Type must be multipart/mixed"))
    parts = split_multipart(content_type, body)
    if not parts:
        return error(bad_request("Invalid multipart request: no parts"))
    if len(parts) > MAX_CALLS:
        return error(bad_request(f"Too many requests in batch, max is {MAX_CALLS}"))
    boundary = "batch_" + secrets.token_urlsafe(12)
    chunks: list[bytes] = []
    for headers, payload in parts:
        response = _answer(api, payload)
        content_id = headers.get("content-id", "").strip().strip("<>")
        chunks.append(_serialize(boundary, content_id, response))
    chunks.append(f"--{boundary}--\r\n".encode())
    return ApiResponse(
        200, b"".join(chunks), {"Content-Type": f"multipart/mixed; boundary={boundary}"}
    )


def _answer(api: GmailApi, payload: bytes) -> ApiResponse:
    request = parse_http_request(payload)
    if request is None:
        return error(bad_request("Invalid batch part"))
    response = api.handle(request)
    if response.drop:  # a call cannot drop alone inside a batch: it fails with a 503
        return error(ApiError(503, "The service is currently unavailable."))
    return response


def parse_http_request(data: bytes) -> ApiRequest | None:
    """`GET /path?q HTTP/1.1`, headers, blank line, body."""
    head, body = split_head(data)
    request_line, _, rest = head.partition(b"\n")
    try:
        method, target, _version = request_line.decode("latin-1").strip().split(" ", 2)
    except ValueError:
        return None
    headers = Headers(header_lines(rest))
    url = urlsplit(target)
    args = MultiDict(parse_qsl(url.query, keep_blank_values=True))
    return ApiRequest(method.upper(), url.path, args, headers, body.rstrip(b"\r\n"))


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
