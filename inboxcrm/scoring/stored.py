"""How an award is stored as a `ScoreEvent`, and read back.

An award of its rule's full points is stored with no points and no half-life, and its
reason without the end those make (" +8, halves every 30 days"): it is worth what the
rule gives, by the rules the lead was scored with (`Lead.scored_with`). So when a rule's
points or half-life change, a rescore rewrites none of the events of a lead whose cap
held nothing back: moving the lead's `scored_with` on is enough. An award the cap cut
keeps its own points, half-life and reason."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.db import driver_rows, driver_time
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.awards import Award, fade
from inboxcrm.scoring.models import ScoreEvent
from inboxcrm.scoring.rules import Part, Rule
from inboxcrm.scoring.rulesets import recall
from inboxcrm.scoring.settings import scoring_of

# What a stored event holds of an award: its points, half-life and reason.
Form = tuple[int | None, int | None, str]


@functools.lru_cache(maxsize=256)
def ending(rule: Rule) -> str:
    """What an award of the rule's full points ends its reason with (see `award_by`)."""
    return f" {rule.points:+d}{fade(rule)}"


def form(rule: Rule | None, points: int, half_life: int | None, reason: str) -> Form:
    """An award's points, half-life and reason as stored, by its rule (None: gone)."""
    if rule is not None and points == rule.points and half_life == rule.half_life_days:
        end = ending(rule)
        if reason.endswith(end):
            return None, None, reason[: len(reason) - len(end)]
    return points, half_life, reason


def award(
    rules: Mapping[str, Rule],
    key: str,
    part: Part,
    points: int | None,
    at: Any,
    half_life: int | None,
    reason: str,
    source: int | None,
) -> Award:
    """A stored event as its award, by the rules the lead was scored with (by key)."""
    if points is not None:
        return Award(key, part, points, at, half_life, reason, source)
    rule = rules.get(key)
    if rule is None:  # not in the rules it names (a corrupt set): worth nothing
        return Award(key, part, 0, at, None, reason, source)
    return Award(key, part, rule.points, at, rule.half_life_days, reason + ending(rule), source)


def rules_of(session: Session, workspace_id: int, scored_with: str | None) -> Mapping[str, Rule]:
    """The rules a lead was scored with, by key: those its stored events are worth by. A
    set no longer readable (kept by a version with other fields) gives the workspace's
    rules now; its next rescore is a full one and writes every event again."""
    digest = (scored_with or "").partition(":")[0]
    found = recall(session, workspace_id, [digest]).get(digest) if digest else None
    if found is None:
        found = tuple(scoring_of(session, workspace_id).rules)
    return {r.key: r for r in found}


def awards_of(session: Session, lead: Lead) -> list[Award]:
    """The lead's stored awards, oldest first, read as the driver returns rows (a lead may
    hold hundreds: SQLAlchemy's conversion of each value would be most of the read)."""
    rows = driver_rows(session,
        select(ScoreEvent.rule, ScoreEvent.part, ScoreEvent.points, ScoreEvent.awarded_at,
               ScoreEvent.half_life_days, ScoreEvent.reason, ScoreEvent.activity_id)
        .where(ScoreEvent.workspace_id == lead.workspace_id, ScoreEvent.lead_id == lead.id)
        .order_by(ScoreEvent.id)
    )  # fmt: skip
    if not rows:
        return []
    rules = rules_of(session, lead.workspace_id, lead.scored_with)
    parts = {p.value: p for p in Part}
    return [
        award(rules, key, parts[part], points, driver_time(at), half_life, reason, source)
        for key, part, points, at, half_life, reason, source in rows
    ]
