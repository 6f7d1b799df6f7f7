"""Rescoring leads: from their stored activities and their own fields to awards stored as
ScoreEvents, `Lead.score`, `Lead.temperature` (each change recorded) and `Lead.rescore_at`,
when they next need a look without any new mail.

Set-based: a few queries per call, whatever the number of leads. Idempotent: awards
already stored are left as they are, so rescoring twice at the same moment writes
nothing the second time. Flushes, never commits."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from inboxcrm.db import chunks
from inboxcrm.leads.capture.bulk import core_table, update_by_id
from inboxcrm.leads.models import Activity, ActivityKind, Company, Lead, Temperature
from inboxcrm.mail.models import Message
from inboxcrm.scoring.awards import Award, Happening, IdealCustomer, Profile, award, fit
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.scoring.rules import Part, Rule, Trigger
from inboxcrm.scoring.score import breakdown
from inboxcrm.scoring.settings import chosen
from inboxcrm.scoring.temperature import Thresholds, temperature

TRIGGERS = {
    ActivityKind.reply: Trigger.reply,
    ActivityKind.inquiry: Trigger.inbound,
    ActivityKind.meeting: Trigger.meeting,
    ActivityKind.bounce: Trigger.bounce,
    ActivityKind.unsubscribe: Trigger.unsubscribe,
    ActivityKind.open: Trigger.open,
    ActivityKind.click: Trigger.click,
}
SCORED_KINDS = tuple(TRIGGERS)
LOOK_AHEAD_DAYS = 14  # how far ahead a rescore looks for the next change worth storing
DRIFT = 5  # points of decay worth a rescore even when the temperature stays
ANY_COMPANY = IdealCustomer()  # the ideal customer of a workspace that named none
DEFAULT_THRESHOLDS = Thresholds()


def happening(
    kind: ActivityKind,
    detail: dict[str, Any] | None,
    at: dt.datetime,
    subject: str = "",
    source: int | None = None,
) -> Happening | None:
    """What a stored activity counts as for the rules: None for what earns nothing (a soft
    bounce, an out-of-office, plain mail)."""
    trigger = TRIGGERS.get(kind)
    if trigger is None:
        return None
    detail = detail or {}
    if kind is ActivityKind.bounce and detail.get("type") != "hard":
        return None
    latency = None
    if kind is ActivityKind.reply and isinstance(detail.get("latency_seconds"), int | float):
        latency = dt.timedelta(seconds=detail["latency_seconds"])
    return Happening(trigger, at, subject, latency, source)


def _text(value: str | None) -> str:
    return value or ""


@dataclass
class _Lead:
    id: int
    profile: Profile
    score: int
    temperature: Temperature | None
    rescore_at: dt.datetime | None
    happenings: list[Happening]
    last_engaged_at: dt.datetime | None = None


@dataclass(frozen=True)
class Change:
    """A lead's score and temperature before and after a rescore (for the score actions)."""

    lead_id: int
    score_before: int
    score: int
    temperature_before: Temperature | None
    temperature: Temperature | None


@dataclass(frozen=True)
class Rescored:
    leads: int  # leads looked at
    changed: int  # leads whose score or temperature changed
    changes: tuple[Change, ...] = ()  # those leads, before and after


def rescore(
    session: Session,
    workspace_id: int,
    lead_ids: Iterable[int],
    now: dt.datetime,
    *,
    rules: Sequence[Rule] | None = None,
    ideal: IdealCustomer | None = None,
    thresholds: Thresholds | None = None,
) -> Rescored:
    """Recompute the awards, score, temperature and next look of the workspace's leads,
    by the workspace's own rules, ideal customer and thresholds unless given others."""
    leads = _load(session, workspace_id, set(lead_ids))
    if not leads:
        return Rescored(0, 0)
    rules, ideal, thresholds = chosen(session, workspace_id, rules, ideal, thresholds)
    stored = _stored(session, list(leads))
    adding: list[dict[str, Any]] = []
    dropping: list[int] = []
    updates: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    moved: list[Change] = []
    for lead in leads.values():
        have = stored.get(lead.id, [])
        awards = award(rules, lead.happenings) + _fit(rules, lead.profile, ideal, have, now)
        add, drop = _diff(awards, have)
        dropping += drop
        adding += [_row(workspace_id, lead.id, a) for a in add]
        seen = breakdown(awards, now)
        hot = temperature(lead.temperature, seen.score, seen.last_engaged_at, now, thresholds)
        rescore_at = next_look(awards, hot, seen.score, seen.last_engaged_at, now, thresholds)
        if (seen.score, hot) != (lead.score, lead.temperature):
            moved.append(Change(lead.id, lead.score, seen.score, lead.temperature, hot))
        if hot is not lead.temperature:
            changes.append({"workspace_id": workspace_id, "lead_id": lead.id,
                            "from_temperature": lead.temperature, "to_temperature": hot,
                            "changed_at": now})  # fmt: skip
        if (seen.score, hot, rescore_at, seen.last_engaged_at) != (
            lead.score,
            lead.temperature,
            lead.rescore_at,
            lead.last_engaged_at,
        ):
            updates.append({"row": lead.id, "score": seen.score, "temperature": hot,
                            "changed_at": now if hot is not lead.temperature else None,
                            "rescore_at": rescore_at,
                            "engaged_at": seen.last_engaged_at})  # fmt: skip
    for chunk in chunks(dropping):
        session.execute(delete(ScoreEvent).where(ScoreEvent.id.in_(chunk)))
    if adding:
        session.execute(insert(core_table(ScoreEvent)), adding)
    if changes:
        session.execute(insert(core_table(TemperatureChange)), changes)
    _update(session, updates)
    session.flush()
    changed = {c["lead_id"] for c in changes} | {
        u["row"] for u in updates if u["score"] != leads[u["row"]].score
    }
    return Rescored(len(leads), len(changed), tuple(moved))


def _update(session: Session, updates: list[dict[str, Any]]) -> None:
    moved = [u for u in updates if u["changed_at"] is not None]
    stayed = [u for u in updates if u["changed_at"] is None]
    if moved:
        update_by_id(session, Lead, moved, {"score": "score", "temperature": "temperature",
                                            "temperature_changed_at": "changed_at",
                                            "rescore_at": "rescore_at",
                                            "last_engaged_at": "engaged_at"})  # fmt: skip
    if stayed:
        update_by_id(session, Lead, stayed, {"score": "score", "rescore_at": "rescore_at",
                                             "last_engaged_at": "engaged_at"})  # fmt: skip


def _load(session: Session, workspace_id: int, ids: set[int]) -> dict[int, _Lead]:
    leads: dict[int, _Lead] = {}
    for chunk in chunks(sorted(ids)):
        rows = session.execute(
            select(Lead.id, Lead.title, Lead.budget, Lead.authority, Lead.need, Lead.timeline,
                   Company.industry, Company.size, Lead.score, Lead.temperature, Lead.rescore_at,
                   Lead.last_engaged_at)
            .outerjoin(Company, Company.id == Lead.company_id)
            .where(Lead.workspace_id == workspace_id, Lead.id.in_(chunk))
        )  # fmt: skip
        for r in rows:
            profile = Profile(_text(r.title), _text(r.budget), _text(r.authority), _text(r.need),
                              _text(r.timeline), _text(r.industry), _text(r.size))  # fmt: skip
            leads[r.id] = _Lead(r.id, profile, r.score, r.temperature, r.rescore_at, [],
                                r.last_engaged_at)  # fmt: skip
    for chunk in chunks(sorted(leads)):
        rows = session.execute(
            select(Activity.id, Activity.lead_id, Activity.kind, Activity.occurred_at,
                   Activity.detail, Message.subject)
            .outerjoin(Message, Message.id == Activity.message_id)
            .where(Activity.lead_id.in_(chunk), Activity.kind.in_(SCORED_KINDS))
            .order_by(Activity.occurred_at, Activity.id)
        )  # fmt: skip
        for r in rows:
            found = happening(r.kind, r.detail, r.occurred_at, _subject(r.subject), r.id)
            if found is not None:
                leads[r.lead_id].happenings.append(found)
    return leads


def _subject(subject: str | None) -> str:
    """The thread's subject without its "Re:"s, as a rep names the conversation."""
    text = (subject or "").strip()
    while text[:3].lower() in ("re:", "aw:", "sv:") or text[:4].lower() == "fwd:":
        text = text[text.index(":") + 1 :].strip()
    return text


def _stored(session: Session, leads: list[int]) -> dict[int, list[tuple[int, Award]]]:
    stored: dict[int, list[tuple[int, Award]]] = {}
    for chunk in chunks(leads):
        for e in session.scalars(select(ScoreEvent).where(ScoreEvent.lead_id.in_(chunk))):
            stored.setdefault(e.lead_id, []).append((e.id, as_award(e)))
    return stored


def as_award(event: ScoreEvent) -> Award:
    return Award(event.rule, event.part, event.points, event.awarded_at, event.half_life_days,
                 event.reason, event.activity_id)  # fmt: skip


def _fit(
    rules: Sequence[Rule],
    profile: Profile,
    ideal: IdealCustomer,
    have: list[tuple[int, Award]],
    now: dt.datetime,
) -> list[Award]:
    """The fit awards as of now, each dated when first given (a rescore keeps the date)."""
    since = {a.rule: a.at for _, a in have if a.part is Part.fit}
    return [
        Award(a.rule, a.part, a.points, since.get(a.rule, a.at), None, a.reason)
        for a in fit(rules, profile, ideal, now)
    ]


def _diff(awards: list[Award], have: list[tuple[int, Award]]) -> tuple[list[Award], list[int]]:
    """(the awards to add, the stored ids to drop): what is stored already stays."""
    left: dict[Award, list[int]] = {}
    for event_id, a in have:
        left.setdefault(a, []).append(event_id)
    add: list[Award] = []
    for a in awards:
        ids = left.get(a)
        if ids:
            ids.pop()
        else:
            add.append(a)
    return add, [i for ids in left.values() for i in ids]


def _row(workspace_id: int, lead_id: int, a: Award) -> dict[str, Any]:
    return {"workspace_id": workspace_id, "lead_id": lead_id, "rule": a.rule, "part": a.part,
            "points": a.points, "half_life_days": a.half_life_days, "awarded_at": a.at,
            "reason": a.reason[:300], "activity_id": a.source}  # fmt: skip


def next_look(
    awards: Sequence[Award],
    current: Temperature | None,
    score: int,
    last_engaged_at: dt.datetime | None,
    now: dt.datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
) -> dt.datetime | None:
    """When, with no new mail, the temperature would change or the score would have faded
    by DRIFT points (or to nothing): the first day of the next LOOK_AHEAD_DAYS it does, or
    the end of that look ahead while points are still fading; None when nothing will."""
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
