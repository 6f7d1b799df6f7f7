"""A lead's score as of now: every award's points, faded by its half-life, added up; and
the same, day by day, for the chart.

The score at a moment is a sum of exponentials, one per half-life: `standing` adds up
each half-life's points once, so the score a day or a week later is a few
multiplications (`Standing.later`), not a pass over every award. Such a quick sum may
differ from `breakdown`'s in the last bits of a float; wherever that could change the
rounded score (a sum within a hair of .5) the moment is added up award by award instead,
so the scores are always exactly `breakdown`'s."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from inboxcrm.scoring.awards import Award
from inboxcrm.scoring.rules import Part

DAY_SECONDS = 86400
# How far a quick sum may be from the exact one, per point awarded, before the exact
# sum decides: float error is about 1e-16 per term and step, far below this.
TOLERANCE = 1e-9


def worth(award: Award, now: dt.datetime) -> float:
    """What the award is worth at `now`: nothing before it was given, halved every
    half-life after."""
    if award.at > now:
        return 0.0
    if award.half_life_days is None:
        return float(award.points)
    days = (now - award.at).total_seconds() / 86400
    return float(award.points * 0.5 ** (days / award.half_life_days))


class Line(NamedTuple):
    award: Award
    today: float  # its worth now


@dataclass(frozen=True)
class Breakdown:
    score: int
    engagement: float
    fit: float
    lines: list[Line]  # newest first
    last_engaged_at: dt.datetime | None  # the latest award of positive engagement


def _newest(award: Award) -> dt.datetime:
    return award.at


def _newest_first(awards: Sequence[Award]) -> list[Award]:
    return sorted(awards, key=_newest, reverse=True)


def breakdown(awards: Sequence[Award], now: dt.datetime) -> Breakdown:
    lines: list[Line] = []
    engagement: float = 0
    fit: float = 0
    last_engaged_at = None
    new = tuple.__new__  # a NamedTuple without its Python-level __new__ (a page's hundreds)
    for a in _newest_first(awards):
        if a.at > now:
            continue
        half_life = a.half_life_days  # `worth`, written out, its floats the same
        if half_life is None:
            today = float(a.points)
        else:
            days = (now - a.at).total_seconds() / 86400
            today = float(a.points * 0.5 ** (days / half_life))
        lines.append(new(Line, (a, today)))
        if a.part is Part.engagement:
            engagement += today
            if a.points > 0 and last_engaged_at is None:
                last_engaged_at = a.at  # newest first: the first is the latest
        else:
            fit += today
    return Breakdown(
        score=max(0, round(engagement + fit)),
        engagement=round(engagement, 1),
        fit=round(fit, 1),
        lines=lines,
        last_engaged_at=last_engaged_at,
    )


def exact_score(newest_first: Sequence[Award], moment: dt.datetime) -> int:
    """`breakdown(awards, moment).score`, from the awards sorted newest first, adding up
    in the same order (so the floats are the same), without the lines."""
    engagement: float = 0
    fit: float = 0
    for a in newest_first:
        if a.at > moment:
            continue
        if a.part is Part.engagement:
            engagement += worth(a, moment)
        else:
            fit += worth(a, moment)
    return max(0, round(engagement + fit))


@dataclass(slots=True)
class Standing:
    """A lead's awards as of `now`: the score, the last engagement, and per half-life the
    points they are worth now, so the score later is a few multiplications."""

    now: dt.datetime
    score: int
    last_engaged_at: dt.datetime | None
    newest_first: Sequence[Award]  # read only when a quick sum is too close to call
    steady: float  # what never fades
    fading: dict[int, float]  # half-life in days: the worth now of the awards with it
    scale: float  # points awarded, fading or not: how far a quick sum may stray
    later_awards: bool  # some awards are dated after now (they count once it is then)
    rising: bool  # the score may go up later: awards dated later, or fading negative points

    def later(self, moment: dt.datetime, days: float | None = None) -> int:
        """The score at `moment` (not before now), exactly as `breakdown` has it; `days`:
        how far ahead that is, if known (as worked out here)."""
        if self.later_awards:
            return exact_score(self.newest_first, moment)
        if days is None:
            days = (moment - self.now).total_seconds() / DAY_SECONDS
        total = self.steady
        for half_life, now_worth in self.fading.items():
            total += now_worth * 0.5 ** (days / half_life)
        if abs(total - math.floor(total) - 0.5) <= TOLERANCE * self.scale:
            return exact_score(self.newest_first, moment)  # the quick sum could round wrong
        return max(0, round(total))


def standing(awards: Sequence[Award], now: dt.datetime) -> Standing:
    newest_first = _newest_first(awards)
    engagement: float = 0
    fit: float = 0
    steady = 0.0
    fading: dict[int, float] = {}
    scale = 1.0
    last_engaged_at = None
    later_awards = False
    rising = False
    for a in newest_first:
        if a.at > now:
            later_awards = True
            continue
        half_life = a.half_life_days  # `worth`, written out: once per award per rescore
        if half_life is None:
            today = float(a.points)
        else:
            today = float(a.points * 0.5 ** ((now - a.at).total_seconds() / 86400 / half_life))
        if a.part is Part.engagement:
            engagement += today
            if a.points > 0 and last_engaged_at is None:
                last_engaged_at = a.at  # newest first: the first is the latest
        else:
            fit += today
        if a.half_life_days:
            fading[a.half_life_days] = fading.get(a.half_life_days, 0.0) + today
            rising = rising or a.points < 0
        else:
            steady += today
        scale += abs(a.points)
    return Standing(now, max(0, round(engagement + fit)), last_engaged_at, newest_first,
                    steady, fading, scale, later_awards, rising or later_awards)  # fmt: skip


def series(awards: Sequence[Award], now: dt.datetime, days: int = 90) -> list[tuple[dt.date, int]]:
    """The score at the end of each of the last `days` days, oldest first, today last.

    Day by day forward: each half-life's sum fades by a day's factor and takes in the
    awards given since the day before (the same guard as `Standing.later`)."""
    moments = [now - dt.timedelta(days=back) for back in range(days - 1, -1, -1)]
    newest_first = _newest_first(awards)
    oldest_first = newest_first[::-1]
    steady = 0.0
    fading: dict[int, float] = {}
    scale = 1.0
    taken = 0
    previous: dt.datetime | None = None
    points = []
    for moment in moments:
        if previous is not None:
            step = (moment - previous).total_seconds() / DAY_SECONDS
            for half_life in fading:
                fading[half_life] *= 0.5 ** (step / half_life)
        while taken < len(oldest_first) and oldest_first[taken].at <= moment:
            a = oldest_first[taken]
            if a.half_life_days:
                fading[a.half_life_days] = fading.get(a.half_life_days, 0.0) + worth(a, moment)
            else:
                steady += a.points
            scale += abs(a.points)
            taken += 1
        total = steady + sum(fading.values())
        if abs(total - math.floor(total) - 0.5) <= TOLERANCE * scale * days:
            score = exact_score(newest_first, moment)
        else:
            score = max(0, round(total))
        points.append((moment.date(), score))
        previous = moment
    return points
