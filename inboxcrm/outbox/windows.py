"""Send windows (pure): when a send may go, in the lead's timezone. A window is working
days and hours by default; a source (campaign, sequence step) may set its own, and a
one-off email has none (it goes when the rep sends it)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


@dataclass(frozen=True)
class Window:
    days: frozenset[int] = frozenset(range(5))  # Monday is 0, as datetime.weekday()
    start: dt.time = dt.time(9)
    end: dt.time = dt.time(17)

    def __post_init__(self) -> None:
        if not self.days or not self.days <= set(range(7)):
            raise ValueError("a window needs days from 0 (Monday) to 6")
        if self.start >= self.end:
            raise ValueError("a window's start comes before its end")

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> Window:
        if not data:
            return WORKING_HOURS
        return cls(
            frozenset(int(d) for d in data.get("days", range(5))),
            dt.time.fromisoformat(str(data.get("start", "09:00"))),
            dt.time.fromisoformat(str(data.get("end", "17:00"))),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "days": sorted(self.days),
            "start": self.start.isoformat("minutes"),
            "end": self.end.isoformat("minutes"),
        }


WORKING_HOURS = Window()


def zone(name: str | None, default: str = "UTC") -> ZoneInfo:
    """The lead's timezone, else the workspace's; an unknown name falls back to UTC."""
    for candidate in (name, default, "UTC"):
        if candidate:
            try:
                return ZoneInfo(candidate)
            except (ZoneInfoNotFoundError, ValueError):
                continue
    return ZoneInfo("UTC")


def inside(now: dt.datetime, window: Window, tz: ZoneInfo) -> bool:
    local = now.astimezone(tz)
    return local.weekday() in window.days and window.start <= local.time() < window.end


def next_open(now: dt.datetime, window: Window, tz: ZoneInfo) -> dt.datetime:
    """`now` when inside the window, else when it next opens (UTC)."""
    if inside(now, window, tz):
        return now
    local = now.astimezone(tz)
    for days_ahead in range(8):
        day = local.date() + dt.timedelta(days=days_ahead)
        opens = dt.datetime.combine(day, window.start, tz)
        if day.weekday() in window.days and opens > local:
            return opens.astimezone(dt.UTC)
    raise AssertionError("a window opens within a week")  # days is never empty


@dataclass(frozen=True)
class Plan:
    """What to do with a due send now: go, wait until `at`, or drop it as stale."""

    go: bool
    at: dt.datetime | None = None
    stale: bool = False


def plan(
    now: dt.datetime,
    planned_at: dt.datetime,
    window: Window | None,
    tz: ZoneInfo,
    stale_after: dt.timedelta,
) -> Plan:
    """A send is due only inside its window. One whose window passed (downtime, a cap)
    waits for the next window, unless it is older than `stale_after`: then it is stale."""
    if now - planned_at > stale_after:
        return Plan(False, stale=True)
    if window is None or inside(now, window, tz):
        return Plan(True)
    return Plan(False, next_open(now, window, tz))
