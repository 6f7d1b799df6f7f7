"""Send windows and pacing, pure: a send is due only inside its window in the lead's
timezone; after downtime it waits for the next window, or is dropped when stale."""

from __future__ import annotations

import datetime as dt

import pytest

from inboxcrm.outbox import pacing
from inboxcrm.outbox.windows import WORKING_HOURS, Window, next_open, plan, zone

BERLIN = zone("Europe/Berlin")
NY = zone("America/New_York")
# Friday 2026-11-27 17:30 in Berlin is 16:30 UTC.
FRIDAY_EVENING = dt.datetime(2026, 11, 27, 16, 30, tzinfo=dt.UTC)


def test_after_hours_on_friday_waits_for_monday_nine_in_the_leads_timezone() -> None:
    opens = next_open(FRIDAY_EVENING, WORKING_HOURS, BERLIN)
    assert opens == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)  # 09:00 CET
    # the same moment is 11:30 in New York: inside the window there
    assert next_open(FRIDAY_EVENING, WORKING_HOURS, NY) == FRIDAY_EVENING


def test_a_send_whose_window_passed_waits_for_the_next_one_never_fires_late() -> None:
    planned = FRIDAY_EVENING - dt.timedelta(hours=2)  # planned in the window, then downtime
    decided = plan(FRIDAY_EVENING, planned, WORKING_HOURS, BERLIN, dt.timedelta(hours=72))
    assert not decided.go
    assert not decided.stale
    assert decided.at == dt.datetime(2026, 11, 30, 8, 0, tzinfo=dt.UTC)


def test_a_send_older_than_its_staleness_limit_is_stale() -> None:
    planned = FRIDAY_EVENING - dt.timedelta(hours=73)
    assert plan(FRIDAY_EVENING, planned, WORKING_HOURS, BERLIN, dt.timedelta(hours=72)).stale


def test_no_window_means_any_time() -> None:
    assert plan(FRIDAY_EVENING, FRIDAY_EVENING, None, BERLIN, dt.timedelta(hours=1)).go


def test_a_custom_window_round_trips_and_bad_ones_are_refused() -> None:
    weekend = Window(frozenset({5, 6}), dt.time(10), dt.time(12))
    assert Window.from_json(weekend.to_json()) == weekend
    assert Window.from_json(None) == WORKING_HOURS
    with pytest.raises(ValueError, match="days"):
        Window(frozenset(), dt.time(9), dt.time(17))
    with pytest.raises(ValueError, match="start"):
        Window(frozenset({0}), dt.time(17), dt.time(9))
    with pytest.raises(ValueError, match="days"):
        Window.from_json({"days": [7]})


def test_an_unknown_timezone_falls_back_to_the_workspaces_then_utc() -> None:
    assert zone("Mars/Olympus", "Europe/Berlin") == BERLIN
    assert str(zone(None, "Nowhere/Else")) == "UTC"


def test_default_caps_are_eighty_percent_of_gmails_limits() -> None:
    assert pacing.default_cap("ava@northwind.io") == 1600
    assert pacing.default_cap("someone@gmail.com") == 400


def test_gaps_are_random_within_thirty_to_ninety_seconds() -> None:
    assert pacing.gap(400, lambda: 0.0) == dt.timedelta(seconds=30)
    assert pacing.gap(400, lambda: 1.0) == dt.timedelta(seconds=90)


def test_gaps_shrink_only_as_far_as_a_high_cap_needs() -> None:
    longest = pacing.gap(1600, lambda: 1.0).total_seconds()
    assert 30 < longest < 90
    mean = (30 + longest) / 2
    assert mean * 1600 < 86400  # the cap is reachable within a day
