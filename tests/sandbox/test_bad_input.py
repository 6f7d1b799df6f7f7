"""Malformed requests get Google's 4xx JSON errors, never a 500 or a traceback.

Bodies the client library would refuse to build are sent through its own
authorized transport (google_auth_httplib2), as a buggy caller would.
"""

import json
from collections.abc import Callable
from typing import Any

import google_auth_httplib2  # type: ignore[import-untyped]
import pytest

from inboxcrm.sandbox import RunningSandbox
from tests.support.sandbox import AVA

U = "/gmail/v1/users/me"
CASES = [
    ("POST", U + "/messages/send", b"{not json", 400),
    ("POST", U + "/messages/send", b"[1, 2]", 400),
    ("POST", U + "/messages/send", b'{"raw": 12}', 400),
    ("POST", U + "/messages/send", b'{"raw": "VG86IGJvYkBleGFtcGxlLmNvbQ", "threadId": "ff"}', 404),
    ("POST", U + "/messages", b'{"raw": "%%%"}', 400),
    ("POST", U + "/messages", b'{"raw": "VG86IGE", "labelIds": "INBOX"}', 400),
    ("POST", U + "/messages/batchModify", b'{"ids": "x"}', 400),
    ("POST", U + "/labels", b'{"name": 5}', 400),
    ("POST", U + "/labels", b'{"name": "ok", "color": "red"}', 400),
    ("PATCH", U + "/labels/Label_404", b"{}", 404),
    ("GET", U + "/messages?maxResults=abc", b"", 400),
    ("GET", U + "/messages?maxResults=-3", b"", 400),
    ("GET", U + "/history", b"", 400),
    ("GET", U + "/history?startHistoryId=abc", b"", 400),
    ("GET", U + "/history?startHistoryId=1&historyTypes=nope", b"", 400),
    ("GET", U + "/threads?pageToken=%FF%FE", b"", 400),
    ("GET", U + "/threads/zz", b"", 400),
    ("GET", U + "/messages/xyz/attachments/nope", b"", 400),
    ("POST", "/upload" + U + "/messages/send?uploadType=multipart", b"--x--", 400),
    ("DELETE", U + "/profile", b"", 405),
    ("GET", U + "/nowhere", b"", 404),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), CASES)
def test_malformed_request_gets_a_google_error(
    sandbox: RunningSandbox,
    credentials: Callable[..., Any],
    method: str,
    path: str,
    body: bytes,
    status: int,
) -> None:
    http = google_auth_httplib2.AuthorizedHttp(credentials(AVA))
    headers = {"Content-Type": "application/json"}
    response, content = http.request(sandbox.url + path, method, body=body, headers=headers)
    assert response.status == status, content
    error = json.loads(content)["error"]
    assert error["code"] == status
    assert error["errors"][0]["reason"]


def test_garbage_batch_is_a_400(sandbox: RunningSandbox, credentials: Callable[..., Any]) -> None:
    http = google_auth_httplib2.AuthorizedHttp(credentials(AVA))
    response, _ = http.request(
        sandbox.url + "/batch", "POST", body=b"hello",
        headers={"Content-Type": "multipart/mixed; boundary=zzz"},
    )  # fmt: skip
    assert response.status == 400
    response, _ = http.request(sandbox.url + "/batch", "POST", body=b"{}")
    assert response.status == 400
