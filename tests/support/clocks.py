"""Clocks that never wait: time moves by the sleeps asked of them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.support.sandbox import Control

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
