"""The injected clock, the quota bucket and "Retry after" parsing (no sandbox needed)."""

import bisect
import threading
from datetime import UTC, datetime, timedelta

import pytest

from inboxcrm.gmail.pacing import SystemClock, TokenBucket, parse_retry_after
from tests.support.clocks import START, FakeClock


def test_full_bucket_spends_its_capacity_without_waiting() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock, capacity=100)
    for _ in range(20):
        assert bucket.take(5) == 0
    assert clock.sleeps == []
    assert bucket.level == 0


def test_empty_bucket_waits_for_exactly_the_refill_it_needs() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock, capacity=60, refill_per_minute=60)  # one unit a second
    bucket.take(60)
    assert bucket.take(5) == 5
    bucket.take(1)
    assert clock.sleeps == [5, 1]
    clock.sleep(10)  # idle time refills, up to the capacity only
    assert bucket.level == 10
    clock.sleep(600)
    assert bucket.level == 60


def test_a_call_dearer_than_the_capacity_waits_for_a_full_bucket() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock, capacity=50, refill_per_minute=60)
    bucket.take(30)
    assert bucket.take(100) == 30  # refill to 50 first, then it runs 50 in debt
    assert bucket.take(1) == 51


def test_spend_never_exceeds_capacity_plus_refill_in_any_window() -> None:
    """Gmail's model: a full bucket bursts its capacity, then the refill rate rules.

    So no instant spends more than the capacity, any window of w seconds at most
    capacity + refill*w/60, and a busy minute after the burst about the refill (plus
    what a short pause between calls let refill).
    """
    clock = FakeClock()
    capacity = refill = 15_000
    bucket = TokenBucket(clock)
    times: list[float] = []
    costs = [1, 2, 5, 5, 10, 100, 5, 25, 50]
    spent = [0]  # running total after each call
    for i in range(12_000):
        cost = costs[i % len(costs)]
        bucket.take(cost)
        times.append((clock.now() - START).total_seconds())
        spent.append(spent[-1] + cost)
        if i % 97 == 0:
            clock.sleep(0.25)  # the calls themselves take time now and then
    assert times[-1] > 300  # the run was held to the quota for minutes
    for width in (0.0, 1.0, 60.0):
        for first, start in enumerate(times):
            last = bisect.bisect_right(times, start + width)
            assert spent[last] - spent[first] <= capacity + refill * width / 60 + 1e-6
    busy = spent[bisect.bisect_left(times, 180)] - spent[bisect.bisect_left(times, 120)]
    assert refill - 100 <= busy <= refill + 100


def test_bucket_is_shared_by_threads_without_losing_a_unit() -> None:
    clock = FakeClock()
    bucket = TokenBucket(clock, capacity=1000)

    def spend() -> None:
        for _ in range(10):
            bucket.take(5)

    threads = [threading.Thread(target=spend) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert clock.sleeps == []
    assert bucket.level == 0
    assert bucket.take(5) == 5 / (1000 / 60)


@pytest.mark.parametrize(
    ("message", "seconds"),
    [
        ("User-rate limit exceeded.  Retry after 2026-11-23T10:00:30.000Z", 30.0),
        ("User-rate limit exceeded.  Retry after 2026-11-23T10:02:00.500Z (Mail sending)", 120.5),
        ("Retry after 2026-11-23T11:00:05+01:00", 5.0),
        ("Retry after 2026-11-23T09:59:00Z", 0.0),  # already past: go now
        ("Quota exceeded for quota metric 'Queries' and limit 'Queries per minute'", None),
        ("", None),
        (None, None),
        ("Retry after tomorrow", None),
    ],
)
def test_parse_retry_after(message: str | None, seconds: float | None) -> None:
    assert parse_retry_after(message, START) == seconds


def test_system_clock_is_aware_utc() -> None:
    clock = SystemClock()
    now = clock.now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(seconds=5)
    clock.sleep(0)
    clock.sleep(-1)
