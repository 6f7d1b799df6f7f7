"""A lead's awards added up per rule as of a moment: what its score at any later moment
follows from in a few multiplications, kept on the lead row (`Lead.score_sums`) so that a
rescore with nothing new reads none of its events.

Each rule's awards are one entry: its half-life (0: none), their worth at the moment, how
far that worth may stray from the award-by-award sum (points awarded, times how coarsely
their ages were read: see `rescore.JULIAN_STRAY`), the latest award of positive
engagement, the rule's points when they were awarded, for a capped rule how many of its
awards fell in one period at most (what tells, with no activity read, whether its cap held
any back: see `free`), and its latest award (what tells the score at an earlier moment
after which none was given: see `score_at`). A rule since changed in its
points alone, for a lead whose awards of it were never held back by its cap (the only
leads whose events of it a rescore leaves as they are: each is worth the rule's full
points, see `stored`), is worth its awards times new points over old: applied as the
sums are read, so that such a change rewrites no sums. A rule's
awards given again replace its entry. Valid while the lead's `scored_with` is: every
rescore that writes score events writes both."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from inboxcrm.scoring.awards import Award
from inboxcrm.scoring.rules import Part, Rule
from inboxcrm.scoring.score import TOLERANCE

DAY_MICROS = 86400 * 10**6
_FADED = 1000  # half-lives: 2 ** -1000 is about the smallest a float holds to its digits
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MICROSECOND = dt.timedelta(microseconds=1)
FIT, ENGAGED = "f:", "e:"  # an entry's name: the part, then the rule's key

# (what never fades, per half-life what fades, the stray of it all, whether it may rise
# later: fading negative points, the latest positive engagement)
Fold = tuple[float, dict[int, float], float, bool, int | None]
# [half-life in days (0: none), worth at `Sums.at`, stray, last positive engagement
# (microseconds since the epoch, None: none), the rule's points then, for a capped rule
# [its period in days, the most of its awards within one period] (None: not known), and
# its latest award (microseconds). An entry kept by an earlier version ends sooner.]
Entry = list[Any]


def micros(at: dt.datetime) -> int:
    return (at - EPOCH) // MICROSECOND


def moment(us: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=us)


def name(part: Part | str, rule: str) -> str:
    return (FIT if part == Part.fit else ENGAGED) + rule


@dataclass(slots=True)
class Sums:
    at: int  # the moment the worths are as of, in microseconds since the epoch
    entries: dict[str, Entry] = field(default_factory=dict)
    # Not to be kept (summed again next time): awards dated after `at`, or a rule's
    # awards of two half-lives.
    odd: bool = False

    def add(self, awards: Iterable[Award], rules: Mapping[str, Rule]) -> None:
        """Awards added up one by one, as the SQL adds up stored events (`rescore._sums`),
        by the rules now (by key). A capped rule's entry made here counts its densest
        period from these awards; one added to, from what it had and these (at most)."""
        at = self.at
        entries = self.entries
        capped: dict[str, tuple[int, list[int]]] = {}  # a capped rule's period, times here
        had: dict[str, Any] = {}  # and what it counted before, for those it had
        for a in awards:
            given = micros(a.at)
            if given > at:
                self.odd = True
                continue
            half_life = a.half_life_days or 0
            worth = (
                float(a.points * 0.5 ** ((at - given) / DAY_MICROS / half_life))
                if half_life
                else float(a.points)
            )
            key = name(a.part, a.rule)
            entry = entries.get(key)
            rule = rules.get(a.rule)
            if entry is None or entry[0] != half_life:
                self.odd = self.odd or entry is not None
                points = a.points if rule is None else rule.points
                entry = entries[key] = [half_life, 0.0, 0.0, None, points, None, given]
                made = True
            else:
                made = False
            if rule is not None and rule.cap is not None and rule.period_days:
                if key not in capped:
                    capped[key] = (rule.period_days, [])
                    if not made:  # it had awards before these: what it counted then
                        had[key] = entry[5] if len(entry) > 5 else None
                capped[key][1].append(given)
            if len(entry) > 6 and given > entry[6]:
                entry[6] = given
            entry[1] += worth
            entry[2] += abs(a.points)
            engaged = a.part is Part.engagement and a.points > 0
            if engaged and (entry[3] is None or given > entry[3]):
                entry[3] = given
        for key, (period, times) in capped.items():
            if key in had:  # a window may hold what it had and all of these
                was = had[key]
                dense = None if was is None or was[0] != period else [period, was[1] + len(times)]
            else:
                dense = [period, _densest(sorted(times), period * DAY_MICROS)]
            entry = entries[key]
            if len(entry) > 5:
                entry[5] = dense
            else:  # kept by an earlier version
                entry.append(dense)

    def put(self, key: str, entry: Entry) -> None:
        """An entry summed elsewhere (in SQL)."""
        self.odd = self.odd or key in self.entries
        self.entries[key] = entry

    def free(self, before: Rule, now: Rule) -> bool | None:
        """Whether the cap of this engagement rule, as it was (`before`) and as it is, holds
        back none of the lead's awards; None when the entry cannot tell (no count kept, or
        for another period). Its awards as they were: all of the rule's full points only
        when fewer than cap / points fell in any one period (at cap / points, one more may
        have been held back unseen); then they are every happening it rewards, and the
        rule now holds none back when at most cap / points of them fall in one."""
        entry = self.entries.get(ENGAGED + now.key)
        if entry is None:
            return True  # it gave nothing: no happening of it (the first always earns)
        dense = entry[5] if len(entry) > 5 else None
        periods = {r.period_days for r in (before, now) if r.cap is not None}
        if dense is None or periods != {dense[0]}:
            return None
        most = dense[1]
        was = before.cap is None or most * abs(before.points) < abs(before.cap)
        will = now.cap is None or most * abs(now.points) <= abs(now.cap)
        return was and will

    def drop(self, rules: Iterable[str]) -> bool:
        """The entries of these rules' engagement awards gone; whether there were any."""
        dropped = False
        for rule in rules:
            dropped = self.entries.pop(ENGAGED + rule, None) is not None or dropped
        return dropped

    def drop_fit(self) -> None:
        for key in [k for k in self.entries if k.startswith(FIT)]:
            del self.entries[key]

    def moved(self, now: int, rules: Mapping[str, Rule]) -> bool:
        """The same awards as of a later moment, by the rules now (see the module's note):
        each fading entry faded, each scaled to its rule's points. False when an entry does
        not fit its rule (gone, or of another half-life): the sums cannot say."""
        days = (now - self.at) / DAY_MICROS
        for key, entry in self.entries.items():
            rule = rules.get(key[2:])
            if rule is None or (rule.half_life_days or 0) != entry[0] or not entry[4]:
                return False
            if rule.points != entry[4]:
                factor = rule.points / entry[4]
                entry[1] *= factor
                entry[2] *= abs(factor)
                entry[4] = rule.points
            if entry[0]:
                entry[1] *= 0.5 ** (days / entry[0])
        self.at = now
        return True

    def score_at(self, earlier: int) -> int | None:
        """The score at an earlier moment (microseconds) after which no award was given,
        each fading entry faded back; None when the sums cannot tell it for sure (an award
        since, or a sum too close to a half point to round)."""
        total = 0.0
        stray = 1.0
        back = (self.at - earlier) / DAY_MICROS  # days
        for entry in self.entries.values():
            if len(entry) < 7 or entry[6] > earlier:
                return None
            half_life, worth = entry[0], entry[1]
            if half_life and back > _FADED * half_life:
                return None  # faded past what a float holds: only the awards can tell
            total += worth * 2.0 ** (back / half_life) if half_life else worth
            stray += entry[2]
        if abs(total - math.floor(total) - 0.5) <= TOLERANCE * stray:
            return None
        return max(0, round(total))

    def folded(self) -> Fold:
        steady = 0.0
        fading: dict[int, float] = {}
        stray = 1.0
        rising = False
        last = None
        for half_life, worth, entry_stray, engaged, *_ in self.entries.values():
            if half_life:
                fading[half_life] = fading.get(half_life, 0.0) + worth
                rising = rising or worth < 0
            else:
                steady += worth
            stray += entry_stray
            if engaged is not None and (last is None or engaged > last):
                last = engaged
        return steady, fading, stray, rising, last

    def text(self) -> str | None:
        """As stored; None when not to be kept."""
        if self.odd:
            return None
        return _ENCODE([self.at, self.entries])


# json.dumps without making an encoder per call (a sync batch writes hundreds of sums),
# nor looking for cycles that lists of numbers cannot have
_ENCODE = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
# json.loads without its checks around the text (a workspace rescore reads 100,000 sums)
_DECODE = json.JSONDecoder().raw_decode


def read(text: str | None) -> Sums | None:
    """Sums as stored, or None for none or a form this cannot read."""
    if not text:
        return None
    try:
        at, entries = _DECODE(text)[0]
    except (ValueError, TypeError):
        return None
    if not isinstance(at, int) or not isinstance(entries, dict):
        return None
    return Sums(at, entries)


def _densest(times: list[int], period: int) -> int:
    """The most of these times (sorted) within one period: after a time less than a
    period before, as a cap counts (`awards._Window.used`)."""
    most, first = 0, 0
    for last, time in enumerate(times):
        while times[first] <= time - period:
            first += 1
        most = max(most, last - first + 1)
    return most
