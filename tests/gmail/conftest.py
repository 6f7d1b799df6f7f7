"""A fake clock, and the sandbox fixtures (reset per test, real credentials and service)."""

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from inboxcrm.gmail.calls import CallStats, GmailCalls, RetryPolicy
from inboxcrm.gmail.pacing import TokenBucket
from tests.sandbox.conftest import AVA, Control, control, credentials, gmail

__all__ = ["AVA", "Control", "FakeClock", "SandboxClock", "control", "credentials", "gmail"]

START = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


class FakeClock:
    """Records sleeps and moves its own time by them; never waits."""

    def __init__(self, start: datetime = START) -> None:
        self.current = start
        self.sleeps: list[float] = []

    def now(self) -> datetime:
        return self.current

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.current += timedelta(seconds=seconds)


class SandboxClock(FakeClock):
    """A fake clock that moves the sandbox's clock too, so its quota refills as we wait."""

    def __init__(self, control: Control) -> None:
        super().__init__(datetime.fromtimestamp(control("clock", method="GET")["now"], UTC))
        self.control = control

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        self.control("clock", {"advance": seconds})


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
