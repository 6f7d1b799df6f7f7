"""Scores a rep can read: awards with reasons, caps, fading points, and temperature that
does not flip at the line."""

from __future__ import annotations

import datetime as dt

import pytest

from inboxcrm.errors import Invalid
from inboxcrm.leads.models import Temperature
from inboxcrm.scoring.awards import Happening, IdealCustomer, Profile, award, fit, is_senior
from inboxcrm.scoring.rules import DEFAULT_RULES, Part, Rule, Trigger, check_rule
from inboxcrm.scoring.score import breakdown, series, worth
from inboxcrm.scoring.temperature import Thresholds, temperature

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)


def reply(at: dt.datetime, hours: float, subject: str = "Q3 renewal") -> Happening:
    return Happening(Trigger.reply, at, subject, dt.timedelta(hours=hours))


def test_a_quick_reply_earns_both_reply_rules_and_says_why() -> None:
    awards = award(DEFAULT_RULES, [reply(NOW, 2)])
    assert [(a.rule, a.points) for a in awards] == [("reply", 10), ("quick_reply", 5)]
    assert awards[1].reason == "Replied within 2 h to 'Q3 renewal' +5, halves every 30 days"
    slow = award(DEFAULT_RULES, [reply(NOW, 30)])
    assert [a.rule for a in slow] == ["reply"]  # not within 24 h


def test_a_cap_holds_over_its_trailing_period() -> None:
    opens = [Happening(Trigger.open, NOW + dt.timedelta(hours=h)) for h in range(6)]
    awards = award(DEFAULT_RULES, opens)
    assert sum(a.points for a in awards) == 3  # 1 point an open, 3 a week
    later = award(DEFAULT_RULES, [*opens, Happening(Trigger.open, NOW + 8 * DAY)])
    assert sum(a.points for a in later) == 4  # a new week, room again


def test_negative_rules_cost_and_an_unknown_trigger_earns_nothing() -> None:
    awards = award(DEFAULT_RULES, [Happening(Trigger.bounce, NOW)])
    assert [(a.rule, a.points) for a in awards] == [("bounce", -20)]
    assert award(DEFAULT_RULES, []) == []


def test_points_halve_every_half_life_and_count_nothing_before_they_were_given() -> None:
    (given, _) = award(DEFAULT_RULES, [reply(NOW, 2)])
    assert worth(given, NOW) == 10
    assert worth(given, NOW + 30 * DAY) == pytest.approx(5)
    assert worth(given, NOW + 60 * DAY) == pytest.approx(2.5)
    assert worth(given, NOW - DAY) == 0


def test_the_breakdown_shows_each_part_newest_first_with_its_worth_today() -> None:
    happenings = [reply(NOW - 30 * DAY, 30, "Pilot"), Happening(Trigger.meeting, NOW - DAY)]
    awards = award(DEFAULT_RULES, happenings)
    awards += fit(DEFAULT_RULES, Profile(title="VP Sales"), IdealCustomer(), NOW)
    parts = breakdown(awards, NOW)
    assert [line.award.rule for line in parts.lines] == ["senior_title", "meeting", "reply"]
    assert parts.fit == 10
    assert parts.engagement == pytest.approx(20 * 0.5 ** (1 / 45) + 5, abs=0.1)
    assert parts.score == round(parts.engagement + parts.fit)
    assert parts.last_engaged_at == NOW - DAY


def test_a_bounce_never_makes_a_score_negative_and_is_no_engagement() -> None:
    parts = breakdown(award(DEFAULT_RULES, [Happening(Trigger.bounce, NOW)]), NOW)
    assert parts.score == 0
    assert parts.last_engaged_at is None


def test_the_chart_has_one_point_a_day_ending_today() -> None:
    awards = award(DEFAULT_RULES, [Happening(Trigger.meeting, NOW - 10 * DAY)])
    points = series(awards, NOW, days=90)
    assert len(points) == 90
    assert points[-1] == (NOW.date(), breakdown(awards, NOW).score)
    assert points[0][1] == 0  # before the meeting
    assert points[-11][1] == 20


@pytest.mark.parametrize(
    ("title", "senior"),
    [
        ("VP Sales", True),
        ("Chief Revenue Officer", True),
        ("Head of Growth", True),
        ("Founder & CEO", True),
        ("Sales Director, EMEA", True),
        ("Account Executive", False),
        ("Intern", False),
        ("", False),
    ],
)
def test_decision_maker_titles(title: str, senior: bool) -> None:
    assert is_senior(title) is senior


def test_fit_from_bant_and_the_ideal_customer() -> None:
    full = Profile(budget="50k", authority="CFO signs", need="CRM", timeline="Q1", industry="SaaS")
    ideal = IdealCustomer(industries=frozenset({"saas"}))
    assert [a.rule for a in fit(DEFAULT_RULES, full, ideal, NOW)] == ["bant", "ideal_company"]
    assert fit(DEFAULT_RULES, Profile(budget="50k"), IdealCustomer(), NOW) == []
    assert all(a.part is Part.fit for a in fit(DEFAULT_RULES, full, ideal, NOW))


def test_a_rule_with_bad_values_is_refused_with_what_to_fix() -> None:
    with pytest.raises(Invalid) as refused:
        check_rule(Rule("x", "", Trigger.open, 0, half_life_days=0, cap=5))
    assert set(refused.value.fields) == {"name", "points", "half_life_days", "cap"}
    with pytest.raises(Invalid) as quick:
        check_rule(Rule("x", "Quick open", Trigger.open, 1, within_hours=2))
    assert "within_hours" in quick.value.fields
    for rule in DEFAULT_RULES:
        assert check_rule(rule) is rule


def test_temperature_needs_engagement_and_cold_means_warm_gone_quiet() -> None:
    assert temperature(None, 80, None, NOW) is None  # never engaged
    assert temperature(None, 60, NOW, NOW) is Temperature.hot
    assert temperature(None, 25, NOW, NOW) is Temperature.warm
    assert temperature(None, 5, NOW, NOW) is None
    quiet = NOW - 15 * DAY
    assert temperature(Temperature.warm, 25, quiet, NOW) is Temperature.cold
    assert temperature(None, 5, quiet, NOW) is None  # quiet but never warm: not cold


def test_temperature_keeps_its_level_until_the_score_falls_past_the_margin() -> None:
    assert temperature(Temperature.hot, 47, NOW, NOW) is Temperature.hot
    assert temperature(Temperature.hot, 44, NOW, NOW) is Temperature.warm
    assert temperature(Temperature.warm, 16, NOW, NOW) is Temperature.warm
    assert temperature(Temperature.warm, 14, NOW, NOW) is None
    assert temperature(None, 48, NOW, NOW) is Temperature.warm  # climbing needs the line
    assert temperature(Temperature.cold, 30, NOW, NOW) is Temperature.warm  # re-engaged


def test_temperature_settings_with_bad_values_are_refused() -> None:
    with pytest.raises(Invalid) as refused:
        Thresholds(hot=10, warm=20, margin=30, cold_after_days=0).checked()
    assert set(refused.value.fields) == {"warm", "margin", "cold_after_days"}
    assert Thresholds().checked() == Thresholds()
