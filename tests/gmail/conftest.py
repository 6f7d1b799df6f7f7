"""Gmail calls against the sandbox (reset for every test) with a fake clock."""

from collections.abc import Callable
from typing import Any

import pytest

from inboxcrm.gmail.calls import CallStats, GmailCalls, RetryPolicy
from inboxcrm.gmail.pacing import TokenBucket
from tests.support.clocks import FakeClock
from tests.support.sandbox import AVA, Control


@pytest.fixture(autouse=True)
def empty_sandbox(control: Control) -> Control:
    return control


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def calls(gmail: Callable[..., Any], clock: FakeClock) -> Callable[..., GmailCalls]:
    """GmailCalls for a sandbox account with a fake clock and jitter fixed at half."""

    def make(email: str = AVA, **options: Any) -> GmailCalls:
        bucket = options.pop("bucket", None) or TokenBucket(clock)
        return GmailCalls(
            gmail(email),
            bucket,
            clock=clock,
            policy=options.pop("policy", RetryPolicy()),
            random=lambda: 0.5,
            stats=options.pop("stats", CallStats()),
            **options,
        )

    return make
