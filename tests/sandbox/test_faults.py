"""Injected faults: error storms, dropped connections, slow answers."""

from collections.abc import Callable
from typing import Any

import httplib2
import pytest
from googleapiclient.errors import HttpError

from tests.support.sandbox import AVA, Control


def test_error_storm_on_one_operation(gmail: Callable[..., Any], control: Control) -> None:
    control("faults", {"kind": "error", "status": 429, "count": 2, "operation": "messages.list"})
    users = gmail(AVA).users()
    for _ in range(2):
        with pytest.raises(HttpError) as caught:
            users.messages().list(userId="me").execute()
        assert caught.value.resp.status == 429
        users.getProfile(userId="me").execute()  # other operations are untouched
    users.messages().list(userId="me").execute()
    assert control("faults", method="GET")["faults"] == []


def test_server_errors_and_retries_of_the_client(
    gmail: Callable[..., Any], control: Control
) -> None:
    control("faults", {"kind": "error", "status": 503, "count": 1, "path": "/labels"})
    labels = gmail(AVA).users().labels()
    with pytest.raises(HttpError) as caught:
        labels.list(userId="me").execute()
    assert caught.value.resp.status == 503
    assert caught.value.error_details[0]["reason"] == "backendError"
    assert labels.list(userId="me").execute()["labels"]


def test_dropped_connection(gmail: Callable[..., Any], control: Control) -> None:
    control("faults", {"kind": "drop", "count": 5, "operation": "getProfile"})
    users = gmail(AVA).users()
    with pytest.raises((OSError, httplib2.HttpLib2Error)):
        users.getProfile(userId="me").execute()
    control("faults", method="DELETE")
    assert users.getProfile(userId="me").execute()["emailAddress"] == AVA


@pytest.mark.slow  # the sandbox answers after a real delay
def test_slow_answer_still_answers(gmail: Callable[..., Any], control: Control) -> None:
    control("faults", {"kind": "slow", "delay": 0.05, "count": 1})
    assert gmail(AVA).users().getProfile(userId="me").execute()["emailAddress"] == AVA


def test_faults_inside_a_batch_fail_single_calls(
    gmail: Callable[..., Any], control: Control
) -> None:
    control("faults", {"kind": "error", "status": 500, "count": 1, "operation": "labels.get"})
    service = gmail(AVA)
    statuses: list[int] = []
    batch = service.new_batch_http_request(
        callback=lambda _id, _r, exc: statuses.append(exc.resp.status if exc else 200)
    )
    for label in ("INBOX", "SENT", "TRASH"):
        batch.add(service.users().labels().get(userId="me", id=label))
    batch.execute()
    assert statuses == [500, 200, 200]
