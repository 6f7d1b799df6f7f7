"""From what a lead did (and who the lead is) to awarded points, each with its reason.

An award is what a rule gave for one happening: its points at the time, the time, and a
sentence a rep reads ("Replied within 2 h to 'Q3 renewal' +15, halves every 30 days").
Caps hold per rule over a trailing period: once a rule has given its cap in the period
before a happening, that happening earns nothing from it."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from inboxcrm.scoring.rules import Part, Rule, Trigger


class Happening(NamedTuple):
    """Something a lead did, as the signals saw it: a reply (with how long after the
    team's last message), an inbound first message, a meeting accepted, a bounce..."""

    trigger: Trigger
    at: dt.datetime
    subject: str = ""
    latency: dt.timedelta | None = None  # replies: since the team's last message
    source: int | None = None  # the activity it came from


class Award(NamedTuple):
    """A tuple: a workspace's rescore builds a million of them, and diffs them against
    the stored ones by value."""

    rule: str  # the rule's key
    part: Part
    points: int
    at: dt.datetime
    half_life_days: int | None
    reason: str
    source: int | None = None


def _hours(delta: dt.timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours < 1:
        return f"{max(1, round(hours * 60))} min"
    if hours < 48:
        return f"{round(hours)} h"
    return f"{round(hours / 24)} days"


def fade(rule: Rule) -> str:
    """How a reason ends after the points: how fast they fade."""
    return f", halves every {rule.half_life_days} days" if rule.half_life_days else ""


def reason(rule: Rule, happening: Happening, points: int) -> str:
    """The sentence a rep reads next to the points."""
    what = rule.name
    if happening.trigger is Trigger.reply and happening.latency is not None:
        what = f"Replied within {_hours(happening.latency)}"
    if happening.subject:
        what += f" to '{happening.subject[:80]}'"
    return f"{what} {points:+d}{fade(rule)}"


def award(rules: Sequence[Rule], happenings: Iterable[Happening]) -> list[Award]:
    """Every award the rules give for these happenings, oldest first, caps applied."""
    return award_by(plan(rules), happenings)


@dataclass(frozen=True)
class _Step:
    """A rule, ready to apply: what `award` reads of it for each happening."""

    rule: Rule
    part: Part
    within: dt.timedelta | None  # a quick-reply rule: replies within this long
    period: dt.timedelta | None  # a capped rule: its trailing period
    fade: str  # the reason's end


Plan = dict[Trigger, list[_Step]]


def plan(rules: Sequence[Rule]) -> Plan:
    """The rules by trigger, in their order: work once per rescore, not per lead."""
    steps: Plan = {}
    for rule in rules:
        capped = rule.cap is not None and rule.period_days is not None
        steps.setdefault(rule.trigger, []).append(_Step(
            rule, rule.part,
            None if rule.within_hours is None else dt.timedelta(hours=rule.within_hours),
            dt.timedelta(days=rule.period_days or 0) if capped else None,
            fade(rule),
        ))  # fmt: skip
    return steps


_new = tuple.__new__  # a NamedTuple made without its Python-level __new__: a million a rescore


def award_by(
    steps: Plan,
    happenings: Iterable[Happening],
    before: Mapping[str, Sequence[tuple[dt.datetime, int]]] | None = None,
) -> list[Award]:
    """`award` with the rules planned: the same awards and reasons (see `reason`).
    `before`: per capped rule, the times and points it gave earlier than all these
    happenings, oldest first (those inside its period count against its cap)."""
    given: list[Award] = []
    windows: dict[str, _Window] = {}
    for key, earlier in (before or {}).items():
        seeded = windows[key] = _Window()
        seeded.given = list(earlier)
        seeded.points = sum(points for _, points in earlier)
    for happening in sorted(happenings, key=_at):
        mine = steps.get(happening.trigger)
        if mine is None:
            continue
        latency = happening.latency
        replied = (
            f"Replied within {_hours(latency)}"
            if happening.trigger is Trigger.reply and latency is not None
            else None
        )
        to = f" to '{happening.subject[:80]}'" if happening.subject else ""
        for step in mine:
            if step.within is not None and (latency is None or latency > step.within):
                continue
            rule = step.rule
            points = rule.points
            window = None
            if step.period is not None and rule.cap is not None:
                window = windows.get(rule.key)
                if window is None:
                    window = windows[rule.key] = _Window()
                room = rule.cap - window.used(happening.at - step.period)
                points = max(points, room) if points < 0 else min(points, room)
                if points == 0 or (points > 0) != (rule.points > 0):
                    continue
            what = rule.name if replied is None else replied
            given.append(_new(Award, (rule.key, step.part, points, happening.at,
                                      rule.half_life_days, f"{what}{to} {points:+d}{step.fade}",
                                      happening.source)))  # fmt: skip
            if window is not None:
                window.add(happening.at, points)
    return given


class _Window:
    """A capped rule's awards so far, oldest first, and the points of those still inside
    its trailing period: happenings come in time order, so the period's start only moves
    forward."""

    def __init__(self) -> None:
        self.given: list[tuple[dt.datetime, int]] = []
        self.first = 0
        self.points = 0

    def used(self, since: dt.datetime) -> int:
        """The points given after `since` (never earlier than the last call's)."""
        while self.first < len(self.given) and self.given[self.first][0] <= since:
            self.points -= self.given[self.first][1]
            self.first += 1
        return self.points

    def add(self, at: dt.datetime, points: int) -> None:
        self.given.append((at, points))
        self.points += points


def _at(happening: Happening) -> dt.datetime:
    return happening.at


@dataclass(frozen=True)
class Profile:
    """Who a lead is, for the fit rules: the fields they read."""

    title: str = ""
    budget: str = ""
    authority: str = ""
    need: str = ""
    timeline: str = ""
    industry: str = ""
    size: str = ""


@dataclass(frozen=True)
class IdealCustomer:
    """The workspace's ideal customer: industries and company sizes (empty: any)."""

    industries: frozenset[str] = frozenset()
    sizes: frozenset[str] = frozenset()


SENIOR = (
    "chief", "ceo", "cfo", "coo", "cto", "cio", "cmo", "cro", "founder", "owner", "president",
    "partner", "vp", "vice president", "head of", "director", "managing", "principal",
    "geschäftsführer", "directeur", "director general", "responsable", "leiter",
)  # fmt: skip


@functools.lru_cache(maxsize=4096)  # a workspace has a few hundred distinct titles
def is_senior(title: str) -> bool:
    words = f" {title.lower().replace(',', ' ').replace('/', ' ')} "
    return any(f" {term} " in words or words.strip().startswith(term) for term in SENIOR)


def fit(
    rules: Sequence[Rule], profile: Profile, ideal: IdealCustomer, now: dt.datetime
) -> list[Award]:
    """The fit awards a lead's fields earn as they are now (they never fade)."""
    facts = {
        Trigger.senior_title: is_senior(profile.title),
        Trigger.bant: all(
            v.strip() for v in (profile.budget, profile.authority, profile.need, profile.timeline)
        ),
        Trigger.ideal_company: bool(
            (ideal.industries or ideal.sizes)
            and (not ideal.industries or profile.industry.strip().lower() in ideal.industries)
            and (not ideal.sizes or profile.size.strip().lower() in ideal.sizes)
        ),
    }
    return [
        Award(rule.key, Part.fit, rule.points, now, None, f"{rule.name} {rule.points:+d}")
        for rule in rules
        if rule.part is Part.fit and facts.get(rule.trigger, False)
    ]
