"""Score rules: what earns or costs a lead points, how fast points fade, and how many a
rule may award in a period. A workspace starts with DEFAULT_RULES and may change them."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from inboxcrm.errors import Invalid


class Part(enum.StrEnum):
    """Engagement is what the lead did; fit is who the lead is."""

    engagement = "engagement"
    fit = "fit"


class Trigger(enum.StrEnum):
    """What a rule reacts to: an engagement signal, or a fact of the lead's own fields."""

    reply = "reply"  # the lead answered the team
    inbound = "inbound"  # the lead wrote first, to a lead inbox
    meeting = "meeting"  # accepted a calendar invitation
    open = "open"  # a human open (tracked sends only)
    click = "click"  # a human click (tracked sends only)
    bounce = "bounce"  # a hard bounce of the lead's address
    unsubscribe = "unsubscribe"  # asked to be left alone
    senior_title = "senior_title"  # title says a decision maker
    bant = "bant"  # budget, authority, need and timeline all filled in
    ideal_company = "ideal_company"  # the company's industry or size is the workspace's


PARTS = {
    Trigger.reply: Part.engagement,
    Trigger.inbound: Part.engagement,
    Trigger.meeting: Part.engagement,
    Trigger.open: Part.engagement,
    Trigger.click: Part.engagement,
    Trigger.bounce: Part.engagement,
    Trigger.unsubscribe: Part.engagement,
    Trigger.senior_title: Part.fit,
    Trigger.bant: Part.fit,
    Trigger.ideal_company: Part.fit,
}
MAX_POINTS = 100
MAX_HALF_LIFE_DAYS = 3650
MAX_PERIOD_DAYS = 365


@dataclass(frozen=True)
class Rule:
    """`points` for each `trigger` (negative ones cost), fading by half every
    `half_life_days` (None: never), at most `cap` points per `period_days` (None: no cap).
    `within_hours` narrows a reply rule to quick replies (the lead answered within that
    long of the team's last message)."""

    key: str
    name: str
    trigger: Trigger
    points: int
    half_life_days: int | None = None
    cap: int | None = None
    period_days: int | None = None
    within_hours: int | None = None

    @property
    def part(self) -> Part:
        return PARTS[self.trigger]


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("reply", "Replied", Trigger.reply, 10, half_life_days=30, cap=30, period_days=7),
    Rule(
        "quick_reply",
        "Replied within 24 h",
        Trigger.reply,
        5,
        half_life_days=30,
        cap=15,
        period_days=7,
        within_hours=24,
    ),
    Rule("inbound", "Wrote to us first", Trigger.inbound, 15, half_life_days=60),
    Rule("meeting", "Accepted a meeting", Trigger.meeting, 20, half_life_days=45),
    Rule("open", "Opened an email", Trigger.open, 1, half_life_days=14, cap=3, period_days=7),
    Rule("click", "Clicked a link", Trigger.click, 3, half_life_days=14, cap=9, period_days=7),
    Rule("bounce", "Address bounced", Trigger.bounce, -20),
    Rule("unsubscribe", "Asked to be left alone", Trigger.unsubscribe, -30),
    Rule("senior_title", "Decision-maker title", Trigger.senior_title, 10),
    Rule("bant", "Budget, authority, need and timeline known", Trigger.bant, 15),
    Rule("ideal_company", "Company fits the ideal customer", Trigger.ideal_company, 10),
)


def check_rule(rule: Rule) -> Rule:
    """A rule with sound values, or Invalid naming each field to fix."""
    problems: dict[str, str] = {}
    if not rule.name.strip() or len(rule.name) > 120:
        problems["name"] = "give the rule a name of at most 120 characters"
    if not -MAX_POINTS <= rule.points <= MAX_POINTS or rule.points == 0:
        problems["points"] = f"points must be between -{MAX_POINTS} and {MAX_POINTS}, not 0"
    if rule.half_life_days is not None and not 1 <= rule.half_life_days <= MAX_HALF_LIFE_DAYS:
        problems["half_life_days"] = f"a half-life is 1 to {MAX_HALF_LIFE_DAYS} days, or none"
    if (rule.cap is None) != (rule.period_days is None):
        problems["cap"] = "a cap needs its period, and a period its cap"
    elif rule.cap is not None and rule.period_days is not None:
        if rule.cap == 0 or abs(rule.cap) < abs(rule.points) or (rule.cap > 0) != (rule.points > 0):
            problems["cap"] = "a cap is at least one award's points, of the same sign"
        if not 1 <= rule.period_days <= MAX_PERIOD_DAYS:
            problems["period_days"] = f"a period is 1 to {MAX_PERIOD_DAYS} days"
    if rule.within_hours is not None:
        if rule.trigger is not Trigger.reply:
            problems["within_hours"] = "only a reply rule can ask for a quick reply"
        elif not 1 <= rule.within_hours <= 24 * 30:
            problems["within_hours"] = "a quick reply is within 1 hour to 30 days"
    if problems:
        raise Invalid("the score rule has values to fix", problems)
    return rule


# What each trigger is, as the end of "+10 for ...".
WHAT = {
    Trigger.reply: "a reply",
    Trigger.inbound: "writing to us first",
    Trigger.meeting: "an accepted meeting",
    Trigger.open: "an open",
    Trigger.click: "a click",
    Trigger.bounce: "a hard bounce",
    Trigger.unsubscribe: "asking to be left alone",
    Trigger.senior_title: "a decision-maker title",
    Trigger.bant: "budget, authority, need and timeline known",
    Trigger.ideal_company: "a company that fits the ideal customer",
}
PERIODS = {1: "a day", 7: "a week", 14: "a fortnight", 30: "a month", 365: "a year"}


def describe(rule: Rule) -> str:
    """The rule in one plain sentence: "+10 for a reply, halves every 30 days, at most 30
    a week"."""
    what = WHAT[rule.trigger]
    if rule.within_hours is not None:
        what += f" within {rule.within_hours} h"
    parts = [f"{rule.points:+d} for {what}"]
    if rule.half_life_days:
        day = "day" if rule.half_life_days == 1 else f"{rule.half_life_days} days"
        parts.append(f"halves every {day}")
    if rule.cap is not None and rule.period_days is not None:
        period = PERIODS.get(rule.period_days, f"per {rule.period_days} days")
        parts.append(f"at most {abs(rule.cap)}{' off' if rule.cap < 0 else ''} {period}")
    return ", ".join(parts)
