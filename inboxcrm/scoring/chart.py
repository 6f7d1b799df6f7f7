"""The score over the last days as an inline SVG's shapes: pure, no script, no CDN."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

WIDTH, HEIGHT, PAD = 360, 90, 4


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    points: str  # the polyline's "x,y x,y ..."
    area: str  # the same, closed along the bottom, for the filled shape
    top: int  # the score the top of the chart stands for
    first: dt.date | None
    last: dt.date | None
    latest: int


def chart(series: list[tuple[dt.date, int]]) -> Chart:
    top = max([10, *(score for _, score in series)])
    step = (WIDTH - 2 * PAD) / max(1, len(series) - 1)
    coords = [
        (PAD + i * step, HEIGHT - PAD - (HEIGHT - 2 * PAD) * score / top)
        for i, (_, score) in enumerate(series)
    ]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    area = f"{PAD},{HEIGHT - PAD} {points} {WIDTH - PAD},{HEIGHT - PAD}" if coords else ""
    return Chart(
        WIDTH,
        HEIGHT,
        points,
        area,
        top,
        series[0][0] if series else None,
        series[-1][0] if series else None,
        series[-1][1] if series else 0,
    )
