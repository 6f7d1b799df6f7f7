"""Hot, warm or cold, from score and recency, with room so a lead near a line does not
flip every day.

- A lead that never engaged (no award of positive engagement) has no temperature.
- Cold is what sales teams mean by it: a lead that was warm or hot and has gone quiet for
  `cold_after_days` (a quiet lead that never got warm has none).
- Otherwise hot at `hot` points, warm at `warm`; a lead already hot (or warm) keeps it
  until it falls `margin` below the line.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from inboxcrm.errors import Invalid
from inboxcrm.leads.models import Temperature


@dataclass(frozen=True)
class Thresholds:
    hot: int = 50
    warm: int = 20
    margin: int = 5
    cold_after_days: int = 14

    @functools.cached_property
    def quiet(self) -> dt.timedelta:
        """How long a lead goes without engaging before it is cold (asked for a million
        times in a workspace rescore)."""
        return dt.timedelta(days=self.cold_after_days)

    def checked(self) -> Thresholds:
        problems = {}
        if not 0 < self.warm < self.hot <= 1000:
            problems["warm"] = "warm must be above 0 and below hot (at most 1,000)"
        if not 0 <= self.margin < self.warm:
            problems["margin"] = "the margin is 0 or more, and less than warm"
        if not 1 <= self.cold_after_days <= 365:
            problems["cold_after_days"] = "a lead goes cold after 1 to 365 quiet days"
        if problems:
            raise Invalid("the temperature settings have values to fix", problems)
        return self


def temperature(
    previous: Temperature | None,
    score: int,
    last_engaged_at: dt.datetime | None,
    now: dt.datetime,
    thresholds: Thresholds = Thresholds(),
) -> Temperature | None:
    if last_engaged_at is None:
        return None
    return temperature_if(previous, score, now - last_engaged_at >= thresholds.quiet, thresholds)


def temperature_if(
    previous: Temperature | None, score: int, quiet: bool, thresholds: Thresholds
) -> Temperature | None:
    """`temperature` for a lead that engaged, quiet by now or not."""
    was_warm = previous in (Temperature.hot, Temperature.warm, Temperature.cold)
    if quiet:
        return Temperature.cold if was_warm else None
    hot_line = thresholds.hot - (thresholds.margin if previous is Temperature.hot else 0)
    if score >= hot_line:
        return Temperature.hot
    warm_line = thresholds.warm - (
        thresholds.margin if previous in (Temperature.hot, Temperature.warm) else 0
    )
    if score >= warm_line:
        return Temperature.warm
    return None
