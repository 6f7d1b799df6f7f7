"""From what a lead did (and who the lead is) to awarded points, each with its reason.

An award is what a rule gave for one happening: its points at the time, the time, and a
sentence a rep reads ("Replied within 2 h to 'Q3 renewal' +15, halves every 30 days").
Caps hold per rule over a trailing period: once a rule has given its cap in the period
before a happening, that happening earns nothing from it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from inboxcrm.scoring.rules import Part, Rule, Trigger


@dataclass(frozen=True)
class Happening:
    """Something a lead did, as the signals saw it: a reply (with how long after the
    team's last message), an inbound first message, a meeting accepted, a bounce..."""

    trigger: Trigger
    at: dt.datetime
    subject: str = ""
    latency: dt.timedelta | None = None  # replies: since the team's last message
    source: int | None = None  # the activity it came from


@dataclass(frozen=True)
class Award:
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


def reason(rule: Rule, happening: Happening, points: int) -> str:
    """The sentence a rep reads next to the points."""
    what = rule.name
    if happening.trigger is Trigger.reply and happening.latency is not None:
        what = f"Replied within {_hours(happening.latency)}"
    if happening.subject:
        what += f" to '{happening.subject[:80]}'"
    fade = f", halves every {rule.half_life_days} days" if rule.half_life_days else ""
    return f"{what} {points:+d}{fade}"


def _applies(rule: Rule, happening: Happening) -> bool:
    if rule.trigger is not happening.trigger:
        return False
    if rule.within_hours is None:
        return True
    return happening.latency is not None and happening.latency <= dt.timedelta(
        hours=rule.within_hours
    )


def award(rules: Sequence[Rule], happenings: Iterable[Happening]) -> list[Award]:
    """Every award the rules give for these happenings, oldest first, caps applied."""
    given: list[Award] = []
    for happening in sorted(happenings, key=lambda h: h.at):
        for rule in rules:
            if not _applies(rule, happening):
                continue
            points = rule.points
            if rule.cap is not None and rule.period_days is not None:
                since = happening.at - dt.timedelta(days=rule.period_days)
                used = sum(a.points for a in given if a.rule == rule.key and a.at > since)
                room = rule.cap - used
                points = max(points, room) if points < 0 else min(points, room)
                if points == 0 or (points > 0) != (rule.points > 0):
                    continue
            given.append(
                Award(
                    rule.key,
                    rule.part,
                    points,
                    happening.at,
                    rule.half_life_days,
                    reason(rule, happening, points),
                    happening.source,
                )
            )
    return given


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
