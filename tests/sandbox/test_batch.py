"""Batches through googleapiclient's BatchHttpRequest (posted to rootUrl + /batch)."""

from collections.abc import Callable
from typing import Any

import pytest
from googleapiclient.errors import HttpError
from googleapiclient.http import BatchHttpRequest

from inboxcrm.sandbox import RunningSandbox
from tests.support.mail import eml
from tests.support.sandbox import AVA, Control


def test_batch_get_and_modify_with_per_call_errors(
    gmail: Callable[..., Any], control: Control
) -> None:
    ids = [
        control("deliver", {"to": AVA, "eml": eml("a@b.example", AVA, f"m{i}").decode()})["id"]
        for i in range(30)
    ]
    service = gmail(AVA)
    results: dict[str, Any] = {}

    def collect(request_id: str, response: Any, exception: HttpError | None) -> None:
        results[request_id] = exception or response

    batch = service.new_batch_http_request(callback=collect)
    messages = service.users().messages()
    for mid in ids:
        batch.add(messages.get(userId="me", id=mid, format="metadata"), request_id=mid)
    batch.add(messages.get(userId="me", id="0000000000000001"), request_id="missing")
    batch.add(
        messages.modify(userId="me", id=ids[0], body={"removeLabelIds": ["UNREAD"]}),
        request_id="modify",
    )
    batch.execute()
    assert {results[mid]["id"] for mid in ids} == set(ids)
    assert results[ids[3]]["payload"]["headers"]
    missing = results["missing"]
    assert isinstance(missing, HttpError)
    assert missing.resp.status == 404
    assert "UNREAD" not in results["modify"]["labelIds"]


def test_batch_more_than_100_calls_is_refused(gmail: Callable[..., Any]) -> None:
    service = gmail(AVA)
    batch = service.new_batch_http_request()
    for _ in range(101):
        batch.add(service.users().getProfile(userId="me"))
    with pytest.raises(HttpError) as caught:
        batch.execute()
    assert caught.value.resp.status == 400


def test_batch_alias_path(gmail: Callable[..., Any], sandbox: RunningSandbox) -> None:
    service = gmail(AVA)
    answers: list[Any] = []
    batch = BatchHttpRequest(
        callback=lambda _id, response, _exc: answers.append(response),
        batch_uri=f"{sandbox.url}/batch/gmail/v1",
    )
    batch.add(service.users().getProfile(userId="me"))
    batch.add(service.users().labels().list(userId="me"))
    batch.execute()
    assert answers[0]["emailAddress"] == AVA
    assert answers[1]["labels"]
