"""Rescoring leads: from their stored activities and their own fields to awards stored as
ScoreEvents, `Lead.score`, `Lead.temperature` (each change recorded) and `Lead.rescore_at`,
when they next need a look without any new mail.

Set-based: a few queries per call, whatever the number of leads. Idempotent: awards
already stored are left as they are, so rescoring twice at the same moment writes
nothing the second time. Flushes, never commits."""

from __future__ import annotations

import datetime as dt
import functools
import itertools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from inboxcrm.db import (
    chunks,
    driver_insert,
    driver_member,
    driver_rows,
    driver_time,
    driver_value,
)
from inboxcrm.leads.capture.bulk import core_table, update_by_id
from inboxcrm.leads.models import Activity, ActivityKind, Company, Lead, Temperature
from inboxcrm.mail.models import Message
from inboxcrm.scoring.awards import Award, Happening, IdealCustomer, Profile, award_by, fit, plan
from inboxcrm.scoring.models import ScoreEvent, TemperatureChange
from inboxcrm.scoring.rules import Part, Rule, Trigger
from inboxcrm.scoring.score import Standing, exact_score, standing
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
BOUNCE, REPLY = ActivityKind.bounce.value, ActivityKind.reply.value
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
    first_look: bool  # it never had a temperature: its history may have come in one go
    last_engaged_at: dt.datetime | None = None
    # per activity its time as the driver returned it and as read: a stored event of the
    # activity with the same text has the same time, without reading it again
    stored_at: dict[int, tuple[Any, dt.datetime]] = field(default_factory=dict)


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
    stored = _stored(session, leads)
    adding: list[tuple[Any, ...]] = []
    when = driver_value(session, core_table(ScoreEvent).c.awarded_at)
    dropping: list[int] = []
    updates: list[dict[str, Any]] = []
    changes: list[dict[str, Any]] = []
    moved: list[Change] = []
    steps = plan(rules)
    for lead in leads.values():
        have = stored.get(lead.id, _NOTHING_STORED)
        awards = award_by(steps, lead.happenings) + _fit(rules, lead.profile, ideal, have, now)
        add, drop = _diff(awards, _keys(lead, awards, have), have)
        dropping += drop
        adding += [_row(workspace_id, lead, a, when) for a in add]
        seen = standing(awards, now)
        hot = temperature(lead.temperature, seen.score, seen.last_engaged_at, now, thresholds)
        if hot is None and lead.first_look and _went_quiet(seen, now, thresholds):
            hot = Temperature.cold
        rescore_at = _look(seen, hot, seen.score, seen.last_engaged_at, thresholds)
        if (seen.score, hot) != (lead.score, lead.temperature):
            moved.append(Change(lead.id, lead.score, seen.score, lead.temperature, hot))
        if hot is not lead.temperature:
            changes.append({"workspace_id": workspace_id, "lead_id": lead.id,
                            "from_temperature": lead.temperature, "to_temperature": hot,
                            "changed_at": now})  # fmt: skip
        if (seen.score, hot, rescore_at, seen.last_engaged_at) != (
            lead.score, lead.temperature, lead.rescore_at, lead.last_engaged_at
        ):  # fmt: skip
            updates.append({"row": lead.id, "score": seen.score, "temperature": hot,
                            "changed_at": now if hot is not lead.temperature else None,
                            "rescore_at": rescore_at,
                            "engaged_at": seen.last_engaged_at})  # fmt: skip
    for chunk in chunks(dropping):
        session.execute(delete(ScoreEvent).where(ScoreEvent.id.in_(chunk)))
    driver_insert(session, core_table(ScoreEvent), EVENT_COLUMNS, adding)
    if changes:
        session.execute(insert(core_table(TemperatureChange)), changes)
    _update(session, updates)
    session.flush()
    changed = {c["lead_id"] for c in changes} | {
        u["row"] for u in updates if u["score"] != leads[u["row"]].score
    }
    return Rescored(len(leads), len(changed), tuple(moved))


def _went_quiet(seen: Standing, now: dt.datetime, thresholds: Thresholds) -> bool:
    """A lead that never had a temperature, quiet now, that was warm or hot when it last
    engaged: its history came in one go (a first sync, a backfill), and watched all along
    it would have been warm then and cold now, so it is cold."""
    last = seen.last_engaged_at
    if last is None or now - last < dt.timedelta(days=thresholds.cold_after_days):
        return False
    then = exact_score(seen.newest_first, last)
    return temperature(None, then, last, last, thresholds) is not None


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
    """The leads, and their activities of the scored kinds as happenings. Read as the
    driver returns rows: at a hundred thousand leads SQLAlchemy's conversion of each
    value would cost more than the scoring."""
    leads: dict[int, _Lead] = {}
    for chunk in chunks(sorted(ids)):
        rows = driver_rows(session,
            select(Lead.id, Lead.title, Lead.budget, Lead.authority, Lead.need, Lead.timeline,
                   Company.industry, Company.size, Lead.score, Lead.temperature, Lead.rescore_at,
                   Lead.temperature_changed_at, Lead.last_engaged_at)
            .outerjoin(Company, Company.id == Lead.company_id)
            .where(Lead.workspace_id == workspace_id, Lead.id.in_(chunk))
        )  # fmt: skip
        for r in rows:
            profile = Profile(*(_text(value) for value in r[1:8]))
            hot = None if r[9] is None else Temperature(r[9])
            at = None if r[10] is None else driver_time(r[10])
            engaged = None if r[12] is None else driver_time(r[12])
            leads[r[0]] = _Lead(r[0], profile, r[8], hot, at, [], hot is None and r[11] is None,
                                engaged)  # fmt: skip
    subjects: dict[str | None, str] = {}
    triggers = {kind.value: trigger for kind, trigger in TRIGGERS.items()}
    new = tuple.__new__  # a NamedTuple without its Python-level __new__
    latency_of = driver_member(session, Activity.detail, "latency_seconds")
    type_of = driver_member(session, Activity.detail, "type")
    for chunk in chunks(sorted(leads)):
        rows = driver_rows(session,
            select(Activity.id, Activity.lead_id, Activity.kind, Activity.occurred_at,
                   latency_of, type_of, Message.subject)
            .outerjoin(Message, Message.id == Activity.message_id)
            .where(Activity.lead_id.in_(chunk), Activity.kind.in_(SCORED_KINDS))
            .order_by(Activity.occurred_at, Activity.id)
        )  # fmt: skip
        for activity_id, lead_id, kind, raw_at, latency, bounce, subject in rows:
            # as `happening` reads an activity, without a dict per row
            if kind == BOUNCE and bounce != "hard":
                continue
            if subject not in subjects:
                subjects[subject] = _subject(subject)
            at = driver_time(raw_at)
            waited = None
            if kind == REPLY and isinstance(latency, int | float):
                waited = dt.timedelta(seconds=latency)
            lead = leads[lead_id]
            lead.happenings.append(new(Happening, (triggers[kind], at, subjects[subject], waited,
                                                   activity_id)))  # fmt: skip
            lead.stored_at[activity_id] = (raw_at, at)
    return leads


def _subject(subject: str | None) -> str:
    """The thread's subject without its "Re:"s, as a rep names the conversation."""
    text = (subject or "").strip()
    while text[:3].lower() in ("re:", "aw:", "sv:") or text[:4].lower() == "fwd:":
        text = text[text.index(":") + 1 :].strip()
    return text


@dataclass
class _Stored:
    """A lead's stored events, oldest id first: their ids, and their keys (the award's
    fields with its time as the driver returned it, see `_keys`); and when each fit rule
    first gave its award."""

    ids: list[int] = field(default_factory=list)
    keys: list[tuple[Any, ...]] = field(default_factory=list)
    fit_since: dict[str, tuple[Any, dt.datetime]] = field(default_factory=dict)


_NOTHING_STORED = _Stored()


def _stored(session: Session, leads: dict[int, _Lead]) -> dict[int, _Stored]:
    stored: dict[int, _Stored] = {}
    for chunk in chunks(sorted(leads)):
        rows = driver_rows(session,
            select(ScoreEvent.lead_id, ScoreEvent.id, ScoreEvent.rule, ScoreEvent.part,
                   ScoreEvent.points, ScoreEvent.awarded_at, ScoreEvent.half_life_days,
                   ScoreEvent.reason, ScoreEvent.activity_id)
            .where(ScoreEvent.lead_id.in_(chunk))
            .order_by(ScoreEvent.lead_id, ScoreEvent.id)
        )  # fmt: skip
        for lead_id, events in itertools.groupby(rows, key=_first):
            have = stored[lead_id] = _Stored()
            for row in events:
                have.ids.append(row[1])
                have.keys.append(row[2:])
        fits = driver_rows(session,
            select(ScoreEvent.lead_id, ScoreEvent.rule, ScoreEvent.awarded_at)
            .where(ScoreEvent.lead_id.in_(chunk), ScoreEvent.part == Part.fit)
            .order_by(ScoreEvent.lead_id, ScoreEvent.id)
        )  # fmt: skip
        for lead_id, rule, at in fits:
            stored[lead_id].fit_since[rule] = (at, driver_time(at))  # the last one stands
    return stored


def _first(row: Any) -> Any:
    return row[0]


def as_award(event: ScoreEvent) -> Award:
    return Award(event.rule, event.part, event.points, event.awarded_at, event.half_life_days,
                 event.reason, event.activity_id)  # fmt: skip


def _fit(
    rules: Sequence[Rule],
    profile: Profile,
    ideal: IdealCustomer,
    have: _Stored,
    now: dt.datetime,
) -> list[Award]:
    """The fit awards as of now, each dated when first given (a rescore keeps the date)."""
    since = have.fit_since
    return [
        Award(a.rule, a.part, a.points, since[a.rule][1] if a.rule in since else a.at, None,
              a.reason)
        for a in fit(rules, profile, ideal, now)
    ]  # fmt: skip


def _keys(lead: _Lead, awards: list[Award], have: _Stored) -> list[tuple[Any, ...]]:
    """Each award as a stored event's key: its fields, with its time as the driver returned
    the activity's (or the fit award's first) time. Equal texts are equal times, so the
    stored events need no reading of their times; a time stored in another form only
    costs a rewrite of its event."""
    times = lead.stored_at
    since = have.fit_since
    keys = []
    for a in awards:
        if a.source is not None and a.source in times:
            at = times[a.source][0]
        elif a.source is None and a.rule in since and since[a.rule][1] == a.at:
            at = since[a.rule][0]
        else:
            at = a.at  # new: no stored event has it
        keys.append((a.rule, a.part.value, a.points, at, a.half_life_days, a.reason, a.source))
    return keys


def _diff(
    awards: list[Award], keys: list[tuple[Any, ...]], have: _Stored
) -> tuple[list[Award], list[int]]:
    """(the awards to add, the stored ids to drop): what is stored already stays."""
    if keys == have.keys:
        return [], []  # as stored, in the same order: the usual case
    left: dict[tuple[Any, ...], list[int]] = {}
    for event_id, key in zip(have.ids, have.keys, strict=True):
        left.setdefault(key, []).append(event_id)
    add: list[Award] = []
    for a, key in zip(awards, keys, strict=True):
        ids = left.get(key)
        if ids:
            ids.pop()
        else:
            add.append(a)
    return add, [i for ids in left.values() for i in ids]


EVENT_COLUMNS = ("workspace_id", "lead_id", "rule", "part", "points", "half_life_days",
                 "awarded_at", "reason", "activity_id")  # fmt: skip


def _row(workspace_id: int, lead: _Lead, a: Award, when: Callable[[Any], Any]) -> tuple[Any, ...]:
    """An award as EVENT_COLUMNS' values for the driver: its time as the activity's was
    read, when it is that activity's."""
    known = lead.stored_at.get(a.source) if a.source is not None else None
    at = known[0] if known is not None and known[1] == a.at else when(a.at)
    return (workspace_id, lead.id, a.rule, a.part.value, a.points, a.half_life_days, at,
            a.reason[:300], a.source)  # fmt: skip


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
    return _look(standing(awards, now), current, score, last_engaged_at, thresholds)


def _look(
    seen: Standing,
    current: Temperature | None,
    score: int,
    last_engaged_at: dt.datetime | None,
    thresholds: Thresholds,
) -> dt.datetime | None:
    """`next_look` from the awards' standing now: each day's score is a few
    multiplications (see `Standing.later`), and the day is found by halving.

    Halving is sound while the score only falls (no points dated later, no fading
    negative points): going cold, falling DRIFT points or to nothing, or below a line,
    once true stays true; what holds only while the score is still high (a lead with no
    temperature, or a warm one, above a line; a cold one not quiet) holds on the first
    day or never."""
    fading = bool(seen.fading)  # an award with a half-life, given by now
    if not fading and current in (None, Temperature.cold):
        return None
    now = seen.now
    moments = _days_ahead(now)
    if last_engaged_at is not None:
        quiet = last_engaged_at + dt.timedelta(days=thresholds.cold_after_days)
        if quiet > now:
            moments = sorted([*moments, quiet])

    def changes(moment: dt.datetime) -> bool:
        later = seen.later(moment)
        hot = temperature(current, later, last_engaged_at, moment, thresholds)
        return hot is not current or score - later >= DRIFT or (score > 0 and later == 0)

    if seen.rising:
        found = next((m for m in moments if changes(m)), None)
    elif changes(moments[0]):
        found = moments[0]
    else:
        low, high = 1, len(moments)  # the first day it changes is in [low, high]
        while low < high:
            middle = (low + high) // 2
            if changes(moments[middle]):
                high = middle
            else:
                low = middle + 1
        found = moments[low] if low < len(moments) else None
    if found is not None:
        return found
    return moments[-1] if fading and score > 0 else None


@functools.lru_cache(maxsize=4)
def _days_ahead(now: dt.datetime) -> list[dt.datetime]:
    """The look ahead's days (a rescore asks for the same `now` once per lead)."""
    return [now + dt.timedelta(days=d) for d in range(1, LOOK_AHEAD_DAYS + 1)]
