"""Per-user quota in Gmail units, and the rolling daily sending limit."""

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from tests.support.mail import b64, eml
from tests.support.sandbox import AVA, BEN, Control


def _fail(call: Any) -> HttpError:
    with pytest.raises(HttpError) as caught:
        call.execute()
    return caught.value


def test_bucket_refuses_with_retry_after_then_refills(
    gmail: Callable[..., Any], control: Control
) -> None:
    control("reset", {"seed": "empty", "options": {"quota_units_per_minute": 50}})
    messages = gmail(AVA).users().messages()
    for _ in range(10):
        messages.list(userId="me").execute()  # 5 units each
    error = _fail(messages.list(userId="me"))
    assert error.resp.status == 429
    detail = error.error_details[0]
    assert detail["reason"] == "rateLimitExceeded"
    assert detail["domain"] == "usageLimits"
    assert "Retry after 20" in detail["message"]
    control("clock", {"advance": 6})
    messages.list(userId="me").execute()


def test_403_form_without_retry_after(gmail: Callable[..., Any], control: Control) -> None:
    options = {
        "quota_units_per_minute": 10,
        "quota_status": 403,
        "quota_reason": "userRateLimitExceeded",
        "quota_retry_after": False,
    }
    control("reset", {"seed": "empty", "options": options})
    threads = gmail(AVA).users().threads()
    threads.list(userId="me").execute()  # 10 units
    error = _fail(threads.list(userId="me"))
    assert error.resp.status == 403
    assert error.error_details[0]["reason"] == "userRateLimitExceeded"
    assert "Quota exceeded for quota metric" in error.error_details[0]["message"]
    assert "Retry after" not in error.error_details[0]["message"]


def test_each_call_in_a_batch_is_charged(gmail: Callable[..., Any], control: Control) -> None:
    control("reset", {"seed": "empty", "options": {"quota_units_per_minute": 50}})
    service = gmail(AVA)
    statuses: list[int] = []

    def collect(_id: str, _response: Any, exception: HttpError | None) -> None:
        statuses.append(exception.resp.status if exception else 200)

    batch = service.new_batch_http_request(callback=collect)
    for _ in range(15):
        batch.add(service.users().messages().list(userId="me"))
    batch.execute()
    assert statuses == [200] * 10 + [429] * 5


def test_daily_send_limit_bounces_during_the_delay_then_refuses(
    gmail: Callable[..., Any], control: Control
) -> None:
    options = {"daily_send_limit": 2, "send_limit_delay": 300, "quota_units_per_minute": 0}
    control("reset", {"seed": "empty", "options": options})
    ava = gmail(AVA).users().messages()

    def send(subject: str) -> Any:
        return ava.send(userId="me", body={"raw": b64(eml(AVA, BEN, subject))})

    send("one").execute()
    send("two").execute()
    accepted = send("three").execute()  # over the limit: 200, then a bounce
    assert accepted["id"]
    bounces = ava.list(userId="me", q="from:mailer-daemon").execute()
    assert bounces["resultSizeEstimate"] == 1
    assert bounces["messages"][0]["threadId"] == accepted["threadId"]
    sent = control("sent", {"mailbox": AVA}, method="GET")["sent"]
    assert [s["bounced"] for s in sent] == [[], [], [BEN]]
    control("clock", {"advance": 301})
    error = _fail(send("four"))
    assert error.resp.status == 429
    assert error.error_details[0]["message"].endswith("(Mail sending)")
    control("clock", {"advance": 86400})
    send("five").execute()


def test_usage_counts_units_granted_refused_and_available(
    gmail: Callable[..., Any], control: Control
) -> None:
    control("reset", {"seed": "empty", "options": {"quota_units_per_minute": 60}})
    messages = gmail(AVA).users().messages()
    for _ in range(12):
        messages.list(userId="me").execute()  # 5 units each: the bucket is empty
    _fail(messages.list(userId="me"))
    control("clock", {"advance": 30})  # refills 30 units
    messages.list(userId="me").execute()
    usage = control(f"quota?user={AVA}", method="GET")
    assert usage["used"] == 65
    assert usage["refused"] == 1
    assert usage["seconds"] == pytest.approx(30, abs=1)
    assert usage["available"] == pytest.approx(90, abs=1)
    assert control(f"quota?user={BEN}", method="GET")["used"] == 0


def test_the_most_calls_answered_at_once_are_counted_per_user(
    gmail: Callable[..., Any], control: Control
) -> None:
    slow = {"kind": "slow", "delay": 0.3, "count": 2, "operation": "getProfile"}
    control("faults", slow)

    def profile(_: int) -> None:
        gmail(AVA).users().getProfile(userId="me").execute()  # a service per thread

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(profile, range(2)))
    gmail(BEN).users().getProfile(userId="me").execute()
    assert control(f"quota?user={AVA}", method="GET")["max_in_flight"] == 2
    assert control(f"quota?user={BEN}", method="GET")["max_in_flight"] == 1
