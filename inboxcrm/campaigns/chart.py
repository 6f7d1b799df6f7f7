"""A campaign's results over time as an inline SVG's shapes (pure: no script, no CDN):
one cumulative line per series (sent, opened, clicked, replied, unsubscribed) on a shared
scale, from the launch to now."""

from __future__ import annotations

import bisect
import datetime as dt
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 560, 140, 6
STEPS = 48  # points per line
SERIES = ("sent", "opens", "clicks", "replies", "unsubscribes")
COLOURS = {
    "sent": "#64748b",
    "opens": "#2563eb",
    "clicks": "#16a34a",
    "replies": "#d97706",
    "unsubscribes": "#dc2626",
}


@dataclass(frozen=True)
class Line:
    name: str
    colour: str
    points: str  # the polyline's "x,y x,y ..."
    total: int


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    top: int  # the count the top of the chart stands for
    start: dt.datetime
    end: dt.datetime
    lines: tuple[Line, ...]


def chart(series: dict[str, list[dt.datetime]], start: dt.datetime, end: dt.datetime) -> Chart:
    """Each series (sorted times) as a cumulative line from `start` to `end`."""
    end = max(end, start + dt.timedelta(minutes=1))
    span = (end - start) / STEPS
    top = max([1, *(len(series.get(name, [])) for name in SERIES)])
    lines = []
    for name in SERIES:
        times = series.get(name, [])
        coords = []
        for i in range(STEPS + 1):
            count = bisect.bisect_right(times, start + span * i)
            x = PAD + (WIDTH - 2 * PAD) * i / STEPS
            y = HEIGHT - PAD - (HEIGHT - 2 * PAD) * count / top
            coords.append(f"{x:.1f},{y:.1f}")
        lines.append(Line(name, COLOURS[name], " ".join(coords), len(times)))
    return Chart(WIDTH, HEIGHT, top, start, end, tuple(lines))
