"""Funnel figures from stage changes, per period and owner.

Everything keys on a stage's kind and position, never its name: the funnel is the open
stages in pipeline order followed by the won stages (taken together as one step, "Won").
A lead's path is its creation (in the stage it started in) and then each stage change.
"Reached B" counts a lead that entered B or any later funnel step: skipping a step still
passes it.
"""

from __future__ import annotations

import datetime as dt
import decimal
import statistics
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from inboxcrm.accounts.models import Member
from inboxcrm.errors import BadRequest
from inboxcrm.leads.models import Lead
from inboxcrm.stages.models import Stage, StageChange, StageKind
from inboxcrm.stages.service import list_stages
from inboxcrm.tenancy import Scope

SPEED_TARGET = dt.timedelta(hours=1)
DEFAULT_DAYS = 30
MAX_DAYS = 3660


@dataclass(frozen=True)
class StageFigures:
    stage: Stage
    entered: int  # leads that entered the stage in the period
    now: int  # leads in the stage now, whenever they entered it
    median_time_in_stage: dt.timedelta | None  # of stays that began in the period and ended


@dataclass(frozen=True)
class Conversion:
    """A cohort and how far it got: the leads that entered the first step in the period
    (`reached`, the same number as that stage's `entered`), and how many of them have
    since reached the second step or one after it (`converted`), `skipped` of them
    without entering the second step itself."""

    from_name: str
    to_name: str
    reached: int  # leads that entered the first step in the period: the cohort
    converted: int  # of those, how many have since reached the second step or a later one
    skipped: int = 0  # of the converted, how many passed the second step without entering it

    @property
    def rate(self) -> float | None:
        return self.converted / self.reached if self.reached else None


@dataclass(frozen=True)
class SpeedToLead:
    leads: int  # leads whose first inbound email came in the period
    answered: int
    within_target: int
    median: dt.timedelta | None

    @property
    def share_within_target(self) -> float | None:
        return self.within_target / self.leads if self.leads else None


@dataclass
class Funnel:
    start: dt.datetime
    end: dt.datetime  # exclusive
    owner_id: int | None
    stages: list[StageFigures] = field(default_factory=list)
    steps: list[Conversion] = field(default_factory=list)  # each funnel step to the next
    to_won: list[Conversion] = field(default_factory=list)  # each open stage to Won
    won_leads: int = 0
    won_value: dict[str, decimal.Decimal] = field(default_factory=dict)
    median_time_to_won: dt.timedelta | None = None
    speed: SpeedToLead = field(default_factory=lambda: SpeedToLead(0, 0, 0, None))

    def as_json(self) -> dict[str, Any]:
        def seconds(value: dt.timedelta | None) -> float | None:
            return None if value is None else value.total_seconds()

        def conversion(c: Conversion) -> dict[str, Any]:
            return {
                "from": c.from_name,
                "to": c.to_name,
                "reached": c.reached,
                "converted": c.converted,
                "skipped": c.skipped,
                "rate": c.rate,
            }

        return {
            "from": self.start.date().isoformat(),
            "to": (self.end - dt.timedelta(days=1)).date().isoformat(),
            "owner_id": self.owner_id,
            "stages": [
                {
                    "id": f.stage.id,
                    "name": f.stage.name,
                    "kind": f.stage.kind.value,
                    "position": f.stage.position,
                    "entered": f.entered,
                    "now": f.now,
                    "median_time_in_stage_s": seconds(f.median_time_in_stage),
                }
                for f in self.stages
            ],
            "conversions": [conversion(c) for c in self.steps],
            "to_won": [conversion(c) for c in self.to_won],
            "won": {
                "leads": self.won_leads,
                "value": {k: str(v) for k, v in sorted(self.won_value.items())},
                "median_time_to_won_s": seconds(self.median_time_to_won),
            },
            "speed_to_lead": {
                "leads": self.speed.leads,
                "answered": self.speed.answered,
                "within_1h": self.speed.within_target,
                "share_within_1h": self.speed.share_within_target,
                "median_s": seconds(self.speed.median),
            },
        }


def parse_period(args: Mapping[str, str], today: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """`from` and `to` are days (YYYY-MM-DD), both included; the last 30 days by default.
    Returns [start, end) in UTC."""

    def day(name: str) -> dt.date | None:
        raw = (args.get(name) or "").strip()
        if not raw:
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            label = "From" if name == "from" else "To"
            raise BadRequest(
                f"{label}: a date such as 2026-01-31, not {raw[:40]!r}", {name: "a date"}
            ) from None

    last = day("to") or today
    first = day("from") or last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise BadRequest(
            f"From ({first.isoformat()}) is after To ({last.isoformat()}): "
            "choose a start on or before the end",
            {"from": "after To"},
        )
    if (last - first).days > MAX_DAYS:
        raise BadRequest(
            f"A period is at most {MAX_DAYS:,} days (about ten years)", {"from": "too early"}
        )
    start = dt.datetime.combine(first, dt.time(), dt.UTC)
    return start, dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), dt.UTC)


def parse_owner(scope: Scope, args: Mapping[str, str]) -> int | None:
    """`owner` is a member id of this workspace, or blank for the whole team."""
    owner = (args.get("owner") or "").strip()
    if not owner:
        return None
    if not owner.isdigit():
        raise BadRequest(f"owner must be a member id, got {owner[:40]!r}")
    return scope.get(Member, int(owner)).id


def _median(values: list[dt.timedelta]) -> dt.timedelta | None:
    if not values:
        return None
    return dt.timedelta(seconds=statistics.median(v.total_seconds() for v in values))


def _paths(
    scope: Scope, owner_id: int | None
) -> tuple[list[Any], dict[int, list[tuple[dt.datetime, int]]]]:
    """The leads and, per lead, each stage it entered and when, in order."""
    leads_query = select(
        Lead.id,
        Lead.created_at,
        Lead.stage_id,
        Lead.deal_value,
        Lead.currency,
        Lead.first_inbound_at,
        Lead.first_response_at,
    ).where(Lead.workspace_id == scope.workspace_id)
    changes_query = (
        select(
            StageChange.lead_id,
            StageChange.changed_at,
            StageChange.from_stage_id,
            StageChange.to_stage_id,
        )
        .where(StageChange.workspace_id == scope.workspace_id)
        .order_by(StageChange.lead_id, StageChange.changed_at, StageChange.id)
    )
    if owner_id is not None:
        leads_query = leads_query.where(Lead.owner_id == owner_id)
        changes_query = changes_query.join(Lead, Lead.id == StageChange.lead_id).where(
            Lead.owner_id == owner_id
        )
    leads = list(scope.session.execute(leads_query))
    changes: dict[int, list[Any]] = defaultdict(list)
    for row in scope.session.execute(changes_query):
        changes[row.lead_id].append(row)
    paths: dict[int, list[tuple[dt.datetime, int]]] = {}
    for lead in leads:
        moves = changes.get(lead.id, [])
        first = moves[0].from_stage_id if moves else lead.stage_id
        path = [(lead.created_at, first)] if first is not None else []
        path += [(m.changed_at, m.to_stage_id) for m in moves if m.to_stage_id is not None]
        paths[lead.id] = path
    return leads, paths


def funnel(
    scope: Scope, start: dt.datetime, end: dt.datetime, *, owner_id: int | None = None
) -> Funnel:
    stages = list_stages(scope)
    # Funnel steps: each open stage, then all won stages as one step.
    step_of: dict[int, int] = {}
    open_stages = [s for s in stages if s.kind is StageKind.open]
    for index, stage in enumerate(open_stages):
        step_of[stage.id] = index
    won_step = len(open_stages)
    for stage in stages:
        if stage.kind is StageKind.won:
            step_of[stage.id] = won_step
    step_names = [s.name for s in open_stages] + ["Won"]

    leads, paths = _paths(scope, owner_id)
    result = Funnel(start=start, end=end, owner_id=owner_id)

    entered: dict[int, set[int]] = defaultdict(set)
    stays: dict[int, list[dt.timedelta]] = defaultdict(list)
    # Per lead: its first entry into each funnel step in the period, and its path's steps.
    reached: dict[int, dict[int, int]] = defaultdict(dict)  # step -> lead -> index in path
    for lead_id, path in paths.items():
        for index, (at, stage_id) in enumerate(path):
            if not start <= at < end:
                continue
            entered[stage_id].add(lead_id)
            if index + 1 < len(path):
                stays[stage_id].append(path[index + 1][0] - at)
            step = step_of.get(stage_id)
            if step is not None:
                reached[step].setdefault(lead_id, index)

    def later_reaches(lead_id: int, index: int, target: int) -> bool:
        return any(
            step_of.get(stage_id, -1) >= target for _at, stage_id in paths[lead_id][index + 1 :]
        )

    def passes_by(lead_id: int, index: int, target: int) -> bool:
        """Reached a step after `target` without entering `target` itself."""
        later = [step_of.get(stage_id, -1) for _at, stage_id in paths[lead_id][index + 1 :]]
        return target not in later and any(step > target for step in later)

    now: dict[int, int] = defaultdict(int)
    for lead in leads:
        now[lead.stage_id] += 1
    for stage in stages:
        result.stages.append(
            StageFigures(stage, len(entered[stage.id]), now[stage.id], _median(stays[stage.id]))
        )
    for step in range(won_step):
        cohort = reached[step]
        converted = sum(later_reaches(lead, i, step + 1) for lead, i in cohort.items())
        skipped = sum(passes_by(lead, i, step + 1) for lead, i in cohort.items())
        result.steps.append(
            Conversion(step_names[step], step_names[step + 1], len(cohort), converted, skipped)
        )
        won = sum(later_reaches(lead, i, won_step) for lead, i in cohort.items())
        result.to_won.append(Conversion(step_names[step], "Won", len(cohort), won))

    by_id = {lead.id: lead for lead in leads}
    to_won: list[dt.timedelta] = []
    for lead_id, index in reached[won_step].items():
        lead = by_id[lead_id]
        # Only the lead's first win counts: a deal reopened and won again is one deal.
        if any(step_of.get(s) == won_step for _at, s in paths[lead_id][:index]):
            continue
        result.won_leads += 1
        to_won.append(paths[lead_id][index][0] - lead.created_at)
        if lead.deal_value is not None:
            value = result.won_value.get(lead.currency, decimal.Decimal(0))
            result.won_value[lead.currency] = value + decimal.Decimal(lead.deal_value)
    result.median_time_to_won = _median(to_won)

    inbound = [
        lead for lead in leads if lead.first_inbound_at and start <= lead.first_inbound_at < end
    ]
    waits = [
        lead.first_response_at - lead.first_inbound_at
        for lead in inbound
        if lead.first_response_at and lead.first_response_at >= lead.first_inbound_at
    ]
    result.speed = SpeedToLead(
        leads=len(inbound),
        answered=len(waits),
        within_target=sum(wait <= SPEED_TARGET for wait in waits),
        median=_median(waits),
    )
    return result
