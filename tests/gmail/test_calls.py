"""GmailCalls against the sandbox through the real client libraries, with a fake clock."""

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest
from googleapiclient.errors import HttpError

from inboxcrm.gmail.calls import (
    CallStats,
    GmailCalls,
    GmailUnavailable,
    GrantRevoked,
    HistoryExpired,
    RetryPolicy,
    SendOutcomeUnknown,
)
from inboxcrm.gmail.pacing import TokenBucket
from tests.support.clocks import FakeClock, SandboxClock
from tests.support.mail import eml
from tests.support.sandbox import AVA, Control

BEN = "ben.okafor@northwind.io"
Calls = Callable[..., GmailCalls]


def deliver(control: Control, count: int) -> list[str]:
    """Deliver `count` messages to Ava; their Gmail ids, oldest first."""
    return [
        control("deliver", {"to": AVA, "eml": eml(BEN, AVA, f"Quote {n}").decode()})["id"]
        for n in range(count)
    ]


def test_profile_list_and_fetch_in_batches(calls: Calls, control: Control) -> None:
    ids = deliver(control, 120)
    gmail = calls()
    assert gmail.profile()["emailAddress"] == AVA
    first = gmail.list_message_ids(max_results=100)
    second = gmail.list_message_ids(max_results=100, page_token=first.next_page_token)
    assert second.next_page_token is None
    assert sorted(first.ids + second.ids) == sorted(ids)
    fetched = gmail.get_messages(first.ids + second.ids, format="metadata")
    assert sorted(fetched.messages) == sorted(ids)
    assert fetched.vanished == []
    stats = gmail.stats.as_dict()
    assert stats["calls"] == 1 + 2 + 120
    assert stats["units"] == 1 + 2 * 5 + 120 * 5
    assert stats["retries"] == stats["rate_limited"] == 0
    assert stats["max_concurrency"] == 1


def test_429_storm_mid_fetch_returns_every_message_once(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    ids = deliver(control, 120)
    storm = "|".join(ids[30:70])  # mid first batch, into the second
    control(
        "faults",
        {"kind": "error", "status": 429, "count": 60, "operation": "messages.get",
         "path": f"/messages/({storm})$"},
    )  # fmt: skip
    gmail = calls()
    fetched = gmail.get_messages(ids)
    assert sorted(fetched.messages) == sorted(ids)
    assert [fetched.messages[i]["id"] for i in ids] == ids
    assert fetched.vanished == []
    assert control("faults", method="GET")["faults"] == []
    # Batch 1 (ids 0-49): its 20 stormed calls fail three times, which uses up the
    # storm; only those 20 are sent again. Batches 2 and 3 then pass at once.
    stats = gmail.stats.as_dict()
    assert stats["rate_limited"] == stats["retries"] == 60
    assert stats["calls"] == 120 + 60
    assert stats["units"] == (120 + 60) * 5
    # No "Retry after" in Gmail's bare 429: 1 s, 2 s, 4 s, each plus the jitter 0.5.
    assert clock.sleeps == [1.5, 2.5, 4.5]


def test_retry_after_time_is_honoured(calls: Calls, control: Control, clock: FakeClock) -> None:
    message = "User-rate limit exceeded.  Retry after 2026-11-23T10:00:30.000Z"
    control(
        "faults",
        {"kind": "error", "status": 429, "count": 1, "operation": "getProfile",
         "message": message, "reason": "rateLimitExceeded"},
    )  # fmt: skip
    gmail = calls()
    assert gmail.profile()["emailAddress"] == AVA
    assert clock.sleeps == [30.5]  # the time Gmail named, plus the jitter


def test_403_user_rate_limit_without_retry_after_backs_off(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    control(
        "faults",
        {"kind": "error", "status": 403, "count": 3, "operation": "messages.list",
         "reason": "userRateLimitExceeded",
         "message": "Quota exceeded for quota metric 'Queries' and limit 'Queries per minute'"},
    )  # fmt: skip
    gmail = calls()
    assert gmail.list_message_ids().ids == []
    assert clock.sleeps == [1.5, 2.5, 4.5]
    assert gmail.stats.rate_limited == 3


def test_sandbox_quota_is_respected_through_retry_after(
    gmail: Callable[..., Any], control: Control
) -> None:
    """Our bucket thinks it has quota, the mailbox's real one does not (another client
    spent it): the 429's "Retry after" is waited out on the sandbox's own clock."""
    control("reset", {"seed": "empty", "options": {"quota_units_per_minute": 60}})
    deliver(control, 20)
    clock = SandboxClock(control)
    calls = GmailCalls(gmail(AVA), TokenBucket(clock), clock=clock, random=lambda: 0.0)
    ids = calls.list_message_ids().ids
    fetched = calls.get_messages(ids)  # 100 units against 55 left
    assert sorted(fetched.messages) == sorted(ids)
    assert calls.stats.rate_limited > 0
    assert clock.sleeps
    assert all(0 < s <= 60 for s in clock.sleeps)


def test_bucket_at_the_mailbox_quota_spends_it_all_without_a_429(
    gmail: Callable[..., Any], control: Control
) -> None:
    """The same quota on both sides: the burst, then calls at the refill rate."""
    control("reset", {"seed": "empty", "options": {"quota_units_per_minute": 300}})
    ids = deliver(control, 100)
    clock = SandboxClock(control)
    bucket = TokenBucket(clock, capacity=300)
    calls = GmailCalls(gmail(AVA), bucket, clock=clock)
    listed = calls.list_message_ids().ids
    assert sorted(calls.get_messages(listed).messages) == sorted(ids)
    assert calls.stats.rate_limited == 0
    assert calls.stats.units == 505
    assert sum(clock.sleeps) == pytest.approx((505 - 300) / 5)  # 5 units a second


def test_server_errors_then_success(calls: Calls, control: Control, clock: FakeClock) -> None:
    control("faults", {"kind": "error", "status": 500, "count": 2, "operation": "getProfile"})
    control("faults", {"kind": "error", "status": 503, "count": 1, "operation": "getProfile"})
    gmail = calls()
    assert gmail.profile()["emailAddress"] == AVA
    assert clock.sleeps == [1.5, 2.5, 4.5]
    assert gmail.stats.retries == 3
    assert gmail.stats.rate_limited == 0


def test_a_failed_batch_request_is_sent_again(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    ids = deliver(control, 3)
    control("faults", {"kind": "error", "status": 503, "count": 1, "path": "^/batch"})
    control("faults", {"kind": "drop", "count": 2, "path": "^/batch"})  # httplib2 retries once
    fetched = calls().get_messages(ids)
    assert sorted(fetched.messages) == sorted(ids)
    assert clock.sleeps == [1.5, 2.5]


def test_a_refused_batch_request_is_raised_not_retried(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    """Gmail refuses a malformed batch (400) every time: raised as it is, as for a single
    call, not retried into a GmailUnavailable that would pass for throttling."""
    ids = deliver(control, 3)
    control("faults", {"kind": "error", "status": 400, "count": 10, "path": "^/batch"})
    gmail = calls()
    with pytest.raises(HttpError) as caught:
        gmail.get_messages(ids)
    assert caught.value.resp.status == 400
    assert clock.sleeps == []
    assert gmail.stats.calls == 3
    assert gmail.stats.gave_up == 0


def test_a_garbled_batch_answer_is_sent_again(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    """A 200 that is not multipart (the library's BatchError) is a broken answer: retried."""
    ids = deliver(control, 2)
    gmail = calls()
    threads = [m["threadId"] for m in gmail.get_messages(ids).messages.values()]
    control("faults", {"kind": "error", "status": 200, "count": 1, "path": "^/batch"})
    done = gmail.modify_threads({t: (["STARRED"], []) for t in threads})
    assert sorted(done.threads) == sorted(threads)
    assert clock.sleeps == [1.5]


def test_modify_threads_sends_again_only_the_calls_that_failed(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    ids = deliver(control, 3)
    gmail = calls()
    threads = [m["threadId"] for m in gmail.get_messages(ids).messages.values()]
    control(
        "faults",
        {"kind": "error", "status": 429, "count": 2, "operation": "threads.modify",
         "path": f"/threads/{threads[0]}/"},
    )  # fmt: skip
    gone = "18c0ffee00000001"
    done = gmail.modify_threads({t: (["STARRED"], []) for t in [*threads, gone]})
    assert sorted(done.threads) == sorted(threads)
    assert all("STARRED" in t["messages"][0]["labelIds"] for t in done.threads.values())
    assert list(done.failed) == [gone]
    assert done.failed[gone][0] == 404
    assert clock.sleeps == [1.5, 2.5]
    assert gmail.stats.calls == 3 + 4 + 2
    assert gmail.stats.retries == gmail.stats.rate_limited == 2


def test_dropped_connections_back_off(calls: Calls, control: Control, clock: FakeClock) -> None:
    control("faults", {"kind": "drop", "count": 4, "operation": "getProfile"})
    gmail = calls()
    assert gmail.profile()["emailAddress"] == AVA
    assert clock.sleeps == [1.5, 2.5]  # httplib2 reconnects once by itself each time


def test_gives_up_after_the_configured_attempts(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    control("faults", {"kind": "error", "status": 500, "count": 10, "operation": "getProfile"})
    gmail = calls(policy=RetryPolicy(attempts=3, cap=2.0))
    with pytest.raises(GmailUnavailable, match="gave up after 3 attempts: 500"):
        gmail.profile()
    assert clock.sleeps == [1.5, 2.0]  # capped
    assert gmail.stats.calls == 3
    assert gmail.stats.gave_up == 1


@pytest.mark.parametrize(
    ("fault", "kind"),
    [
        ({"kind": "error", "status": 429}, "rate_limited"),
        ({"kind": "error", "status": 403, "reason": "userRateLimitExceeded"}, "rate_limited"),
        ({"kind": "error", "status": 500}, "server"),
        ({"kind": "error", "status": 503}, "server"),
        ({"kind": "drop"}, "transport"),
    ],
)
def test_giving_up_says_what_kept_failing(
    calls: Calls, control: Control, clock: FakeClock, fault: dict[str, Any], kind: str
) -> None:
    """Only a rate limit is Gmail asking us to slow down: the page and the CLI say which.
    The retries are the same whatever the kind."""
    control("faults", {**fault, "count": 20, "operation": "getProfile"})
    gmail = calls(policy=RetryPolicy(attempts=3, cap=2.0))
    with pytest.raises(GmailUnavailable) as caught:
        gmail.profile()
    assert caught.value.kind == kind
    assert gmail.stats.gave_up == 1


def test_giving_up_mid_fetch_keeps_what_was_fetched(calls: Calls, control: Control) -> None:
    ids = deliver(control, 60)
    second = "|".join(ids[50:])
    control("faults", {"kind": "error", "status": 500, "count": 99, "path": f"({second})$"})
    with pytest.raises(GmailUnavailable) as caught:
        calls(policy=RetryPolicy(attempts=2)).get_messages(ids)
    assert caught.value.fetched is not None
    assert sorted(caught.value.fetched.messages) == sorted(ids[:50])


def test_a_rate_limited_send_is_sent_once_after_the_wait(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    control("contacts", {"emails": [BEN]})
    control("faults", {"kind": "error", "status": 429, "count": 1, "operation": "messages.send"})
    sent = calls().send_raw(eml(AVA, BEN, "Once"))
    assert [s["id"] for s in control("sent", {"mailbox": AVA}, method="GET")["sent"]] == [
        sent["id"]
    ]
    assert clock.sleeps == [1.5]


def test_a_far_retry_after_is_reported_not_slept(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    message = "User-rate limit exceeded.  Retry after 2026-11-24T09:00:00.000Z (Mail sending)"
    control("faults", {"kind": "error", "status": 429, "count": 1, "message": message})
    gmail = calls()
    with pytest.raises(GmailUnavailable) as caught:
        gmail.send_raw(eml(AVA, BEN, "Hello"))
    assert caught.value.retry_at is not None
    assert caught.value.retry_at.isoformat() == "2026-11-24T09:00:00+00:00"
    assert clock.sleeps == []


@pytest.mark.slow  # two calls held open at once by a real delay
def test_threads_share_the_mailbox_bucket_and_counters(
    gmail: Callable[..., Any], control: Control, clock: FakeClock
) -> None:
    """One service per thread (httplib2 is not thread-safe), one bucket and stats."""
    control("faults", {"kind": "slow", "delay": 0.3, "count": 2, "operation": "getProfile"})
    bucket, stats = TokenBucket(clock), CallStats()
    workers = [GmailCalls(gmail(AVA), bucket, stats=stats) for _ in range(2)]
    start = threading.Barrier(2)
    answers: list[str] = []

    def run(calls: GmailCalls) -> None:
        start.wait()
        answers.append(calls.profile()["emailAddress"])

    threads = [threading.Thread(target=run, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == [AVA, AVA]
    assert stats.calls == 2
    assert stats.max_concurrency == 2
    assert bucket.level == bucket.capacity - 2


def test_vanished_messages_are_reported(calls: Calls, control: Control) -> None:
    ids = deliver(control, 3)
    gone = ["18c0ffee00000001", "18c0ffee00000002"]
    fetched = calls().get_messages([ids[0], gone[0], ids[1], gone[1], ids[2], ids[0]])
    assert sorted(fetched.messages) == sorted(ids)
    assert fetched.vanished == gone
    assert fetched.failed == {}


def test_messages_fetched_as_text_are_the_json_gmail_sent(calls: Calls, control: Control) -> None:
    ids = deliver(control, 3)
    gone = "18c0ffee00000001"
    gmail = calls()
    decoded = gmail.get_messages(ids)
    fetched = gmail.get_messages([*ids, gone], as_text=True)
    assert sorted(fetched.messages) == sorted(ids)
    assert all(isinstance(text, bytes | str) for text in fetched.messages.values())
    assert {i: json.loads(t) for i, t in fetched.messages.items()} == decoded.messages
    assert fetched.vanished == [gone]  # refusals are told apart as ever


def test_history_pages_and_404_is_history_expired(calls: Calls, control: Control) -> None:
    gmail = calls()
    start = gmail.profile()["historyId"]
    deliver(control, 2)
    changes = gmail.history(start, history_types=["messageAdded"])
    added = [m["message"]["id"] for h in changes["history"] for m in h["messagesAdded"]]
    assert len(added) == 2
    control("history/expire", {"mailbox": AVA, "before": changes["historyId"]})
    with pytest.raises(HistoryExpired):
        gmail.history(start)
    assert gmail.stats.retries == 0


def test_revoked_grant_raises_grant_revoked_without_retrying(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    ids = deliver(control, 2)
    gmail = calls()
    control("grants/revoke", {"email": AVA})
    with pytest.raises(GrantRevoked):
        gmail.profile()
    with pytest.raises(GrantRevoked):
        gmail.get_messages(ids)  # a batch: inner 401s, then the refresh fails
    assert clock.sleeps == []
    assert gmail.stats.retries == 0


def test_modify_send_and_find_by_rfc822msgid(calls: Calls, control: Control) -> None:
    control("contacts", {"emails": [BEN]})
    gmail = calls()
    raw = eml(AVA, BEN, "Proposal", message_id="<proposal-1@northwind.io>")
    sent = gmail.send_raw(raw)
    assert "SENT" in sent["labelIds"]
    assert gmail.find_by_rfc822msgid("<proposal-1@northwind.io>") == sent["id"]
    assert gmail.find_by_rfc822msgid("proposal-1@northwind.io") == sent["id"]
    assert gmail.find_by_rfc822msgid("<nothing@northwind.io>") is None
    thread = gmail.modify_thread(sent["threadId"], add=["STARRED"])
    assert thread["id"] == sent["threadId"]
    assert gmail.stats.units == 100 + 3 * 5 + 10


def test_send_is_not_resent_after_a_server_error(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    control("faults", {"kind": "error", "status": 500, "count": 1, "operation": "messages.send"})
    with pytest.raises(SendOutcomeUnknown):
        calls().send_raw(eml(AVA, BEN, "Once"))
    assert clock.sleeps == []


def test_calls_wait_for_the_bucket_before_calling(
    calls: Calls, control: Control, clock: FakeClock
) -> None:
    ids = deliver(control, 10)
    bucket = TokenBucket(clock, capacity=20, refill_per_minute=60)
    gmail = calls(bucket=bucket)
    gmail.get_messages(ids)  # 50 units: 20 at once, then 5 s per call
    assert clock.sleeps == [5.0] * 6
    assert gmail.stats.units == 50


def test_a_services_nested_resources_are_built_once_and_serve_every_call(
    calls: Calls, control: Control
) -> None:
    ids = deliver(control, 2)
    gmail = calls()
    # An idle poll builds nothing: the resources of the first call serve the next ones.
    assert gmail.users.history() is gmail.users.history()
    assert gmail.users.messages() is gmail.users.messages()
    assert gmail.users.messages().attachments() is gmail.users.messages().attachments()
    for _ in range(2):
        assert sorted(gmail.list_message_ids().ids) == sorted(ids)
        assert sorted(gmail.get_messages(ids).messages) == sorted(ids)
        start = gmail.profile()["historyId"]
        assert gmail.history(start).get("history", []) == []
