"""A lead's score as of now: every award's points, faded by its half-life, added up; and
the same, day by day, for the chart."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from inboxcrm.scoring.awards import Award
from inboxcrm.scoring.rules import Part


def worth(award: Award, now: dt.datetime) -> float:
    """What the award is worth at `now`: nothing before it was given, halved every
    half-life after."""
    if award.at > now:
        return 0.0
    if award.half_life_days is None:
        return float(award.points)
    days = (now - award.at).total_seconds() / 86400
    return float(award.points * 0.5 ** (days / award.half_life_days))


@dataclass(frozen=True)
class Line:
    award: Award
    today: float  # its worth now


@dataclass(frozen=True)
class Breakdown:
    score: int
    engagement: float
    fit: float
    lines: list[Line]  # newest first
    last_engaged_at: dt.datetime | None  # the latest award of positive engagement


def breakdown(awards: Sequence[Award], now: dt.datetime) -> Breakdown:
    lines = [Line(a, worth(a, now)) for a in awards if a.at <= now]
    lines.sort(key=lambda line: line.award.at, reverse=True)
    engagement = sum(x.today for x in lines if x.award.part is Part.engagement)
    fit = sum(x.today for x in lines if x.award.part is Part.fit)
    engaged = [x.award.at for x in lines if x.award.part is Part.engagement and x.award.points > 0]
    return Breakdown(
        score=max(0, round(engagement + fit)),
        engagement=round(engagement, 1),
        fit=round(fit, 1),
        lines=lines,
        last_engaged_at=max(engaged, default=None),
    )


def series(awards: Sequence[Award], now: dt.datetime, days: int = 90) -> list[tuple[dt.date, int]]:
    """The score at the end of each of the last `days` days, oldest first, today last."""
    points = []
    for back in range(days - 1, -1, -1):
        moment = now - dt.timedelta(days=back)
        points.append((moment.date(), breakdown(awards, moment).score))
    return points
