"""The quick ways to the same scores: awards with caps from a sliding window, the next
look and the chart from per-half-life sums. Each is checked against the plain way,
written out here as the definition, over many random leads (seeded, so a failure
repeats)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import replace

import pytest

from inboxcrm.leads.models import Temperature
from inboxcrm.scoring.awards import Award, Happening, award, reason
from inboxcrm.scoring.rescore import DRIFT, LOOK_AHEAD_DAYS, next_look
from inboxcrm.scoring.rules import DEFAULT_RULES, Part, Rule, Trigger
from inboxcrm.scoring.score import breakdown, exact_score, series, standing
from inboxcrm.scoring.sums import Sums, micros
from inboxcrm.scoring.temperature import Thresholds, temperature

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
LEADS = 400


def plain_award(rules: Sequence[Rule], happenings: Sequence[Happening]) -> list[Award]:
    """Caps by adding up, for each happening, every earlier award of the rule."""
    given: list[Award] = []
    for h in sorted(happenings, key=lambda h: h.at):
        for rule in rules:
            if rule.trigger is not h.trigger:
                continue
            if rule.within_hours is not None and (
                h.latency is None or h.latency > dt.timedelta(hours=rule.within_hours)
            ):
                continue
            points = rule.points
            if rule.cap is not None and rule.period_days is not None:
                since = h.at - dt.timedelta(days=rule.period_days)
                used = sum(a.points for a in given if a.rule == rule.key and a.at > since)
                room = rule.cap - used
                points = max(points, room) if points < 0 else min(points, room)
                if points == 0 or (points > 0) != (rule.points > 0):
                    continue
            given.append(Award(rule.key, rule.part, points, h.at, rule.half_life_days,
                               reason(rule, h, points), h.source))  # fmt: skip
    return given


def plain_series(awards: Sequence[Award], now: dt.datetime, days: int) -> list[tuple[dt.date, int]]:
    return [
        ((now - dt.timedelta(days=back)).date(),
         breakdown(awards, now - dt.timedelta(days=back)).score)
        for back in range(days - 1, -1, -1)
    ]  # fmt: skip


def plain_next_look(
    awards: Sequence[Award],
    current: Temperature | None,
    score: int,
    last_engaged_at: dt.datetime | None,
    now: dt.datetime,
    thresholds: Thresholds,
) -> dt.datetime | None:
    """Every day of the look ahead added up award by award, in order."""
    fading = any(a.half_life_days and a.at <= now for a in awards)
    if not fading and current in (None, Temperature.cold):
        return None
    moments = [now + dt.timedelta(days=d) for d in range(1, LOOK_AHEAD_DAYS + 1)]
    if last_engaged_at is not None:
        quiet = last_engaged_at + dt.timedelta(days=thresholds.cold_after_days)
        if quiet > now:
            moments.append(quiet)
    for moment in sorted(moments):
        later = breakdown(awards, moment).score
        hot = temperature(current, later, last_engaged_at, moment, thresholds)
        if hot is not current or score - later >= DRIFT or (score > 0 and later == 0):
            return moment
    return max(moments) if fading and score > 0 else None


RULES = (
    *DEFAULT_RULES,
    # what a workspace may set: negative points that fade, odd half-lives and caps
    Rule("faded_bounce", "Bounced once", Trigger.bounce, -7, half_life_days=3),
    Rule("opens", "Opened", Trigger.open, 2, half_life_days=1, cap=5, period_days=2),
)


def random_awards(rng: random.Random, rules: Sequence[Rule]) -> list[Award]:
    kinds = (Trigger.reply, Trigger.reply, Trigger.meeting, Trigger.inbound, Trigger.open,
             Trigger.click, Trigger.bounce, Trigger.unsubscribe)  # fmt: skip
    happenings = []
    for n in range(rng.choice((0, 1, 2, 5, 12, 40))):
        at = NOW - dt.timedelta(seconds=rng.randint(-86400, 86400 * 200))  # some after now
        if rng.random() < 0.2:  # on the hour, or exactly a half-life ago
            at = NOW - dt.timedelta(days=rng.choice((0, 1, 14, 30, 45, 60)))
        latency = dt.timedelta(hours=rng.choice((1, 5, 23, 24, 25, 90)))
        happenings.append(Happening(rng.choice(kinds), at, rng.choice(("", "Q3")), latency, n))
    fits = [Award(key, Part.fit, points, NOW - dt.timedelta(days=rng.randint(0, 99)), None,
                  f"fit {points:+d}") for key, points in (("senior_title", 10), ("bant", 15))
            if rng.random() < 0.4]  # fmt: skip
    return award(rules, happenings) + fits


@pytest.mark.parametrize("rules", [DEFAULT_RULES, RULES], ids=["defaults", "custom"])
def test_caps_from_a_sliding_window_give_what_adding_up_gives(rules: Sequence[Rule]) -> None:
    rng = random.Random(11)
    for _ in range(LEADS):
        happenings = [
            Happening(rng.choice((Trigger.reply, Trigger.open, Trigger.click)),
                      NOW - dt.timedelta(hours=rng.randint(0, 24 * 40)), "Pilot",
                      dt.timedelta(hours=rng.randint(0, 48)), n)
            for n in range(rng.randint(0, 30))
        ]  # fmt: skip
        assert award(rules, happenings) == plain_award(rules, happenings)


@pytest.mark.parametrize("rules", [DEFAULT_RULES, RULES], ids=["defaults", "custom"])
def test_the_next_look_and_the_score_are_the_plain_ones(rules: Sequence[Rule]) -> None:
    rng = random.Random(5)
    temperatures = (None, Temperature.hot, Temperature.warm, Temperature.cold)
    for _ in range(LEADS):
        awards = random_awards(rng, rules)
        plain = breakdown(awards, NOW)
        seen = standing(awards, NOW)
        assert (seen.score, seen.last_engaged_at) == (plain.score, plain.last_engaged_at)
        thresholds = rng.choice((Thresholds(), Thresholds(hot=30, warm=8, margin=2,
                                                          cold_after_days=3)))  # fmt: skip
        current = rng.choice(temperatures)
        score = rng.choice((plain.score, plain.score + 3))
        engaged = rng.choice((plain.last_engaged_at, NOW - dt.timedelta(days=10), None))
        plain_look = plain_next_look(awards, current, score, engaged, NOW, thresholds)
        assert next_look(awards, current, score, engaged, NOW, thresholds) == plain_look
        # Looked at first near where it may be: the lead's last look, any moment ahead.
        near = NOW + dt.timedelta(days=rng.uniform(0, LOOK_AHEAD_DAYS + 2))
        for guess in (near, plain_look):
            assert next_look(awards, current, score, engaged, NOW, thresholds, guess) == plain_look


def test_the_chart_is_the_plain_day_by_day_score() -> None:
    rng = random.Random(8)
    for _ in range(LEADS // 2):
        awards = random_awards(rng, RULES)
        days = rng.choice((1, 7, 90))
        assert series(awards, NOW, days) == plain_series(awards, NOW, days)


def test_a_score_on_a_half_point_rounds_as_the_breakdown_does() -> None:
    # 5 points one half-life ago are worth exactly 2.5: rounding to even gives 2, and a
    # quick sum a hair off it must not say 3.
    for points, days in ((5, 30), (3, 30), (7, 60), (1, 30)):
        awards = [Award("reply", Part.engagement, points, NOW - dt.timedelta(days=days), days,
                        "Replied")]  # fmt: skip
        for moment in (NOW, NOW + dt.timedelta(days=days)):
            assert standing(awards, moment).score == breakdown(awards, moment).score
        assert series(awards, NOW + dt.timedelta(days=days), 90) == plain_series(
            awards, NOW + dt.timedelta(days=days), 90
        )


def held_back(rule: Rule, happenings: Sequence[Happening]) -> bool:
    """Whether the rule's cap (of a rule for every happening of its trigger) cut or
    skipped an award: adding up, as defined above."""
    given = [a for a in plain_award([rule], happenings) if a.rule == rule.key]
    earning = [h for h in happenings if h.trigger is rule.trigger and h.at <= NOW]
    return len(given) != len(earning) or any(a.points != rule.points for a in given)


def test_the_kept_sums_tell_whether_a_cap_holds_any_award_back_as_adding_up_does() -> None:
    """`Sums.free`: from the most awards in one period, whether a capped rule held any
    back as it was and holds any back as it is now; never free where adding up finds one
    held back, and it tells for most leads (only where awards fill the cap exactly
    before may it be unsure)."""
    rng = random.Random(5)
    told = {True: 0, False: 0}
    for n in range(LEADS * 2):
        points = rng.choice((3, 8, 10))
        period = rng.choice((1, 3, 7))
        before = Rule(
            "reply",
            "Replied",
            Trigger.reply,
            points,
            half_life_days=30,
            cap=points * rng.randint(1, 4) + rng.choice((0, 0, 1)),
            period_days=period,
        )
        now_points = rng.choice((3, 8, 10, 12))
        now = replace(
            before,
            points=now_points,
            cap=max(now_points, now_points * rng.randint(1, 4) + rng.choice((0, 2))),
        )
        happenings = [
            Happening(Trigger.reply, NOW - dt.timedelta(hours=rng.randint(0, 24 * 30)), "",
                      dt.timedelta(hours=1), m)
            for m in range(rng.randint(0, 12))
        ]  # fmt: skip
        if rng.random() < 0.2 and happenings:  # two at one moment, and one a period later
            happenings.append(happenings[0]._replace(source=99))
            later = happenings[0].at + dt.timedelta(days=period)
            happenings.append(happenings[0]._replace(at=min(later, NOW), source=98))
        sums = Sums(micros(NOW))
        sums.add(award([before], happenings), {"reply": before})
        free = sums.free(before, now)
        assert free is not None
        truly = not held_back(before, happenings) and not held_back(now, happenings)
        if free:
            assert truly, n
        else:
            assert not truly or before.cap % before.points == 0, n  # unsure only there
        told[free] += 1
    assert told[True] > LEADS / 4
    assert told[False] > LEADS / 4
    other = replace(before, period_days=period + 1)
    assert sums.free(before, other) is None  # counted for another period: cannot tell


def test_the_kept_sums_tell_the_score_when_a_lead_last_engaged_as_adding_up_does() -> None:
    """`Sums.score_at`, faded back from now to the latest positive engagement: the score
    then award by award, or None where an award came later (a bounce after the last
    reply) or the sum is too close to a half point."""
    rng = random.Random(17)
    told = 0
    for n in range(LEADS):
        awards = [a for a in random_awards(rng, RULES) if a.at <= NOW]
        seen = standing(awards, NOW)
        last = seen.last_engaged_at
        if last is None:
            continue
        sums = Sums(micros(NOW))
        sums.add(awards, {r.key: r for r in RULES})
        then = sums.score_at(micros(last))
        if any(a.at > last for a in awards):
            assert then is None, n
        elif then is not None:
            assert then == exact_score(seen.newest_first, last), n
            told += 1
    assert told > LEADS / 4


def test_a_lead_quiet_for_thousands_of_half_lives_is_told_award_by_award() -> None:
    """Three years after a meeting whose points halve daily its worth is below what a
    float holds: the sums cannot fade it back to when the lead last engaged."""
    rule = Rule("meeting", "Met", Trigger.meeting, 20, half_life_days=1)
    met = NOW - dt.timedelta(days=3 * 365)
    sums = Sums(micros(NOW))
    sums.add([Award("meeting", Part.engagement, 20, met, 1, "Met +20", 1)], {"meeting": rule})
    assert sums.score_at(micros(met)) is None
    assert sums.score_at(micros(NOW - dt.timedelta(days=30))) == 0  # worth nothing by then
