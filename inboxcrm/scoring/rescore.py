"""Rescoring leads: from their stored activities and their own fields to awards stored as
ScoreEvents, `Lead.score`, `Lead.temperature` (each change recorded) and `Lead.rescore_at`,
when they next need a look without any new mail.

Set-based: a few queries per call, whatever the number of leads. Idempotent: awards
already stored are left as they are, so rescoring twice at the same moment writes
nothing the second time. Flushes, never commits.

Two ways to the same result. A lead whose scored activities are those its events were
awarded from (`Lead.scored_with`: the rules' digest, the activities' count and last id)
has only the rules that changed since recomputed, from their triggers' activities alone,
their events replaced; its fit rules are compared as always, and its score follows from
its stored events, added up per rule: as kept for it (`sums`), else in SQL (`_sums`).
Any other lead (new activities, merged, scored before rule sets were kept) has every rule
recomputed and its events diffed."""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import functools
import gc
import hashlib
import itertools
import math
import operator
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import (
    Float,
    and_,
    case,
    cast,
    delete,
    func,
    literal,
    null,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from inboxcrm.db import (
    IN_LIST,
    chunks,
    driver_insert,
    driver_member,
    driver_rows,
    driver_time,
    driver_update,
    driver_value,
    utcnow,
)
from inboxcrm.leads.capture.bulk import core_table
from inboxcrm.leads.models import Activity, ActivityKind, Company, Lead, Temperature
from inboxcrm.mail.models import Message
from inboxcrm.scoring.awards import Award, Happening, IdealCustomer, Profile, award_by, fit, plan
from inboxcrm.scoring.models import ScoreEvent, ScoreSums, TemperatureChange
from inboxcrm.scoring.rules import Part, Rule, Trigger
from inboxcrm.scoring.rulesets import changed as changed_rules
from inboxcrm.scoring.rulesets import recall, remember
from inboxcrm.scoring.score import DAY_SECONDS, TOLERANCE, Standing, exact_score, standing
from inboxcrm.scoring.settings import chosen
from inboxcrm.scoring.stored import award as stored_award
from inboxcrm.scoring.stored import form
from inboxcrm.scoring.sums import Sums, micros, moment, read
from inboxcrm.scoring.sums import name as entry_name
from inboxcrm.scoring.temperature import Thresholds, temperature, temperature_if

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


@dataclass(slots=True)
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
    scored_with: str | None = None  # as stored
    activities: str = "0:0"  # its scored activities now: their count and last id
    fits: str = ""  # the fit rules it met when last scored (`_fits_digest`)
    fits_now: str = ""  # and now
    added: list[int] = field(default_factory=list)  # activities since: their ids
    redo_from: dt.datetime | None = None  # the earliest new happening older than one scored
    stored_sums: str | None = None  # its events' sums as stored (`ScoreSums`)
    sums: str | None = None  # and as they now are
    kept: Sums | None = None  # those stored sums, while they sum its stored events
    touched: bool = False  # `kept` lost entries here (its fit awards changed)
    extra: list[Award] = field(default_factory=list)  # awards written since `kept`
    then: int | None = None  # its score when it last engaged, if its sums told (first look)


class Change(NamedTuple):
    """A lead's score and temperature before and after a rescore (for the score actions;
    a tuple: a workspace rescore makes one per lead it moves)."""

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
    thresholds: Thresholds | None = None  # the temperature lines it used (for the actions)


@dataclass
class _Out:
    """What a rescore writes, gathered over its leads."""

    workspace_id: int
    now: dt.datetime
    thresholds: Thresholds
    scored_with: str  # the rules' digest
    rules: dict[str, Rule]  # by key
    adding: list[tuple[Any, ...]] = field(default_factory=list)
    dropping: list[int] = field(default_factory=list)
    # per lead to write: its id, which of _WRITES changed, and their values (`_settle`)
    updates: list[tuple[int, tuple[bool, ...], tuple[Any, ...]]] = field(default_factory=list)
    sums: list[tuple[int, str | None]] = field(default_factory=list)  # each lead's, if changed
    # temperatures changed: the lead, from, to
    changes: list[tuple[int, Temperature | None, Temperature | None]] = field(default_factory=list)
    moved: list[Change] = field(default_factory=list)
    # leads whose score is summed from their stored events once all are written: by the
    # rules whose events were just awarded (not summed in SQL), with those awards
    settling: dict[frozenset[str], tuple[dict[int, _Lead], dict[int, list[Award]]]] = field(
        default_factory=dict
    )

    @functools.cached_property
    def lines(self) -> dict[tuple[Any, ...], tuple[int, int] | None]:
        return _lines_for(self.thresholds)

    @functools.cached_property
    def points(self) -> dict[str, int]:
        return {key: rule.points for key, rule in self.rules.items()}


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
    with no_collection():
        return _rescore(session, workspace_id, lead_ids, now, rules, ideal, thresholds)


@contextlib.contextmanager
def no_collection() -> Iterator[None]:
    """Python's cycle collector paused: a rescore makes millions of small objects and no
    cycles, and each collection would walk them all (a third of a workspace rescore).
    Nested, the outermost resumes it."""
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def _rescore(
    session: Session,
    workspace_id: int,
    lead_ids: Iterable[int],
    now: dt.datetime,
    rules: Sequence[Rule] | None,
    ideal: IdealCustomer | None,
    thresholds: Thresholds | None,
) -> Rescored:
    leads = _heads(session, workspace_id, set(lead_ids))
    if not leads:
        return Rescored(0, 0)
    rules, ideal, thresholds = chosen(session, workspace_id, rules, ideal, thresholds)
    by_key = {r.key: r for r in rules}
    out = _Out(workspace_id, now, thresholds, remember(session, workspace_id, rules), by_key)
    scored = {lead.id: _scored_with(lead) for lead in leads.values()}
    digests = {rules_digest for rules_digest, _, _ in scored.values()}
    before: dict[str, _Since] = {out.scored_with: _SAME} if out.scored_with in digests else {}
    before.update(  # the set stored under today's digest is today's: no need to read it
        (key, _since(was, rules))
        for key, was in recall(session, workspace_id, digests - {out.scored_with}).items()
    )
    full: dict[int, _Lead] = {}
    known: dict[str, dict[int, _Lead]] = {}  # by the rules' digest they were scored with
    appended: dict[int, _Lead] = {}  # the same rules, activities added since
    for lead in leads.values():
        rules_digest, activities, fits = scored[lead.id]
        since = before.get(rules_digest)
        lead.fits = fits
        if since is not None and activities == lead.activities:
            known.setdefault(rules_digest, {})[lead.id] = lead
        elif rules_digest == out.scored_with and activities:
            appended[lead.id] = lead
        else:
            full[lead.id] = lead
    when = driver_value(session, core_table(ScoreEvent).c.awarded_at)
    redone: dict[frozenset[str], dict[int, _Lead]] = {}
    if appended:
        refused, redone = _rescore_appended(session, appended, rules, ideal, out, when)
        full.update(refused)
    if full:
        _rescore_full(session, full, rules, ideal, out, when)
    for rules_digest, group in known.items():
        keys, was = before[rules_digest]
        _rescore_known(session, group, keys, was, rules, ideal, out, when)
    for keys, group in redone.items():
        _rescore_tail(session, group, keys, rules, ideal, out, when)
    _settle_all(session, rules, out)
    _record(session, out)
    _update(session, out.updates, now)
    _keep_sums(session, out)
    session.flush()
    changed = {lead_id for lead_id, _, _ in out.changes} | {
        lead_id for lead_id, _, values in out.updates if values[0] != leads[lead_id].score
    }
    return Rescored(len(leads), len(changed), tuple(out.moved), thresholds)


# What changed since a lead's rule set: the keys of the rules added, removed or changed,
# and those rules as they were (by key).
_Since = tuple[frozenset[str], tuple[Rule, ...]]
_SAME: _Since = (frozenset(), ())


def _since(was: Sequence[Rule], rules: Sequence[Rule]) -> _Since:
    keys = changed_rules(was, rules)
    return keys, tuple(sorted((r for r in was if r.key in keys), key=_key))


def _key(rule: Rule) -> str:
    return rule.key


SPAN = 10000  # leads of consecutive ids read in one query, as a range (a workspace's step)


def _spans(ids: Iterable[int]) -> Iterator[list[int]]:
    """The ids in order, a list per query: up to SPAN consecutive ids (asked for as a
    range, see `_among`), or else IN_LIST of them. A workspace rescore's steps are runs of
    ids: a range costs one query for the step and no parameter per lead."""
    ordered = sorted(ids)
    start = 0
    while start < len(ordered):
        end = min(start + SPAN, len(ordered))
        if ordered[end - 1] - ordered[start] != end - 1 - start:
            end = min(start + IN_LIST, len(ordered))
        yield ordered[start:end]
        start = end


def _among(column: Any, chunk: list[int]) -> ColumnElement[bool]:
    """`column` is one of the chunk's ids, sorted: a range when they run without a gap."""
    if chunk[-1] - chunk[0] == len(chunk) - 1:
        return column.between(chunk[0], chunk[-1])  # type: ignore[no-any-return]
    return column.in_(chunk)  # type: ignore[no-any-return]


def _scored_with(lead: _Lead) -> tuple[str, str, str]:
    """What the lead's events were awarded from: the rules' digest, its scored activities
    (their count and last id), the fit rules it met."""
    rules_digest, _, rest = (lead.scored_with or "").partition(":")
    activities, _, fits = rest.rpartition(":")
    return rules_digest, activities, fits


@functools.lru_cache(maxsize=256)
def _fits_digest(keys: tuple[str, ...]) -> str:
    """The fit rules a lead meets, in a few characters."""
    return hashlib.sha256(",".join(keys).encode()).hexdigest()[:8]


def _rescore_full(
    session: Session,
    leads: dict[int, _Lead],
    rules: Sequence[Rule],
    ideal: IdealCustomer,
    out: _Out,
    when: Callable[[Any], Any],
) -> None:
    """Every rule recomputed from all the leads' activities, diffed with what is stored."""
    _happenings(session, leads, SCORED_KINDS)
    stored = _stored(session, leads)
    steps = plan(rules)
    for lead in leads.values():
        have = stored.get(lead.id, _NOTHING_STORED)
        fits = _fit(rules, lead.profile, ideal, have, out.now)
        lead.fits_now = _fits_digest(tuple(a.rule for a in fits))
        awards = award_by(steps, lead.happenings) + fits
        add, drop = _diff(awards, _keys(lead, awards, have, out.rules), have)
        out.dropping += drop
        out.adding += [_row(out, lead, a, when) for a in add]
        sums = Sums(micros(out.now))
        sums.add(awards, out.rules)
        lead.sums = sums.text()
        _settle(lead, standing(awards, out.now), out)
    _write(session, out)


def _rescore_known(
    session: Session,
    leads: dict[int, _Lead],
    keys: frozenset[str],
    was: tuple[Rule, ...],
    rules: Sequence[Rule],
    ideal: IdealCustomer,
    out: _Out,
    when: Callable[[Any], Any],
) -> None:
    """Leads whose activities are those their events came from: the events of the rules
    in `keys` (changed since; `was`, as they were) replaced by those rules' awards from
    their triggers' activities; the fit events diffed; the score from the stored events.

    A rule changed in its points, half-life or cap alone gives an award for the same
    activities as before wherever its cap binds neither before nor now (`_bound`): each
    of those leads' awards of it is the rule's full points, stored as that (see `stored`),
    so nothing of it is read or written."""
    old = {r.key: r for r in was}
    scaled = [(old[r.key], r) for r in rules
              if r.key in keys and r.key in old and _rescales(old[r.key], r)]  # fmt: skip
    if scaled:
        bound = _bound(session, leads, scaled)
        free = {i: lead for i, lead in leads.items() if i not in bound}
        if free:
            done = frozenset(new.key for _, new in scaled)
            _redo(session, free, keys, keys - done, rules, ideal, out, when)
        leads = {i: leads[i] for i in sorted(bound)}
        if not leads:
            return
    _redo(session, leads, keys, keys, rules, ideal, out, when)


def _rescales(old: Rule, new: Rule) -> bool:
    """The rule gives its awards for the same happenings, with the same words before the
    points: only points, half-life or cap changed."""
    return new.part is Part.engagement and (old.trigger, old.name, old.within_hours) == (
        new.trigger, new.name, new.within_hours
    )  # fmt: skip


def _bound(
    session: Session, leads: dict[int, _Lead], scaled: Sequence[tuple[Rule, Rule]]
) -> set[int]:
    """The leads for which one of these rules' caps, before or now, may have held back an
    award. Told by the lead's kept sums where they can (`Sums.free`), else in SQL: n =
    cap / points happenings of its trigger within one period, counted over all the
    trigger's activities (a soft bounce, a slow reply too) and with a second to spare. A
    lead this names needlessly only takes the longer way."""
    bound: set[int] = set()
    for before, now in scaled:
        limits = {(abs(r.cap) // abs(r.points), r.period_days)
                  for r in (before, now) if r.cap is not None and r.period_days}  # fmt: skip
        if not limits:
            continue
        unknown = []
        for lead_id, lead in leads.items():
            free = None if lead.kept is None else lead.kept.free(before, now)
            if free is None:
                unknown.append(lead_id)
            elif not free:
                bound.add(lead_id)
        if not unknown:
            continue
        kinds = [k for k, t in TRIGGERS.items() if t is now.trigger]
        order = (Activity.occurred_at, Activity.id)
        backs = {n: func.lag(Activity.occurred_at, n).over(partition_by=Activity.lead_id,
                                                           order_by=order).label(f"back{n}")
                 for n, _ in limits}  # fmt: skip
        for chunk in _spans(unknown):
            runs = (
                select(Activity.lead_id, Activity.occurred_at.label("at"), *backs.values())
                .where(_among(Activity.lead_id, chunk), Activity.kind.in_(kinds))
                .subquery()
            )
            close = [
                and_(runs.c[f"back{n}"].is_not(None),
                     _apart(session, runs.c.at, runs.c[f"back{n}"]) <= days * 86400 + 1)
                for n, days in limits
            ]  # fmt: skip
            rows = driver_rows(session, select(runs.c.lead_id).where(or_(*close)).distinct())
            bound.update(lead_id for (lead_id,) in rows)
    return bound


def _redo(
    session: Session,
    leads: dict[int, _Lead],
    keys: frozenset[str],
    redo_keys: frozenset[str],
    rules: Sequence[Rule],
    ideal: IdealCustomer,
    out: _Out,
    when: Callable[[Any], Any],
) -> None:
    """`_rescore_known` in Python: the events of the rules in `redo_keys` replaced by their
    awards from the triggers' activities (the other changed rules in `keys` kept their
    events: each is its rule's full points). The awards are added up here, with the other
    events' sums."""
    redo = [r for r in rules if r.key in redo_keys and r.part is Part.engagement]
    fresh: dict[int, list[Award]] = {}  # those rules' awards: added up here, not in SQL
    if redo_keys:
        old = _events_of(session, leads, redo_keys)
        if redo:
            triggers = {r.trigger for r in redo}
            _happenings(session, leads, tuple(k for k, t in TRIGGERS.items() if t in triggers))
        steps = plan(redo)
        changing: list[tuple[Any, ...]] = []
        for lead in leads.values():
            given = fresh[lead.id] = award_by(steps, lead.happenings) if redo else []
            _replace(lead, given, old.get(lead.id, {}), out, when, changing)
        driver_update(session, core_table(ScoreEvent),
                      ("points", "half_life_days", "reason"), changing)  # fmt: skip
    _refit_and_settle(session, leads, keys, rules, ideal, out, when, fresh, redo_keys)


def _replace(
    lead: _Lead,
    given: list[Award],
    was: dict[tuple[str, int | None], tuple[Any, ...]],
    out: _Out,
    when: Callable[[Any], Any],
    changing: list[tuple[Any, ...]],
) -> None:
    """A lead's stored events (`was`, by rule and activity, see `_events_of`) replaced by
    the awards `given`: one alike stays, one that changed in points or reason only is
    updated in place (`changing`), others are added or dropped."""
    for a in given:
        row = _row(out, lead, a, when)
        stored = was.pop((a.rule, a.source), None)
        if stored is None or stored[1] != row[6]:  # new, or dated otherwise
            out.adding.append(row)
            if stored is not None:
                out.dropping.append(stored[0])
        elif stored[2:] != (row[4], row[5], row[7]):
            changing.append((row[4], row[5], row[7], stored[0]))
    out.dropping += [stored[0] for stored in was.values()]  # no award now


def _rescore_tail(
    session: Session,
    leads: dict[int, _Lead],
    keys: frozenset[str],
    rules: Sequence[Rule],
    ideal: IdealCustomer,
    out: _Out,
    when: Callable[[Any], Any],
) -> None:
    """Leads that gained a happening of a capped rule's trigger older than one scored
    (`_rescore_appended`; their other new happenings awarded there): the awards of the
    rules in `keys` redone from that happening on (`_Lead.redo_from`), each capped rule
    counting what it gave in its period before. What they gave before stays: an award
    depends on nothing later. The score from the stored events."""
    redo = [r for r in rules if r.key in keys and r.part is Part.engagement]
    since = {i: lead.redo_from for i, lead in leads.items() if lead.redo_from is not None}
    kinds = tuple(k for k, t in TRIGGERS.items() if t in {r.trigger for r in redo})
    _happenings(session, leads, kinds, since=since)
    old = _events_of(session, leads, keys, since=since)
    earlier = _capped_before(session, leads, redo, until=since)
    steps = plan(redo)
    changing: list[tuple[Any, ...]] = []
    for lead in leads.values():
        given = award_by(steps, lead.happenings, earlier.get(lead.id))
        _replace(lead, given, old.get(lead.id, {}), out, when, changing)
        lead.kept = None  # its sums had awards that are dropped now: summed again in SQL
    driver_update(session, core_table(ScoreEvent),
                  ("points", "half_life_days", "reason"), changing)  # fmt: skip
    _refit_and_settle(session, leads, frozenset(), rules, ideal, out, when, {})


def _rescore_appended(
    session: Session,
    leads: dict[int, _Lead],
    rules: Sequence[Rule],
    ideal: IdealCustomer,
    out: _Out,
    when: Callable[[Any], Any],
) -> tuple[dict[int, _Lead], dict[frozenset[str], dict[int, _Lead]]]:
    """Leads scored by the same rules that have gained activities since (a sync batch's
    replies): those happenings awarded, each capped rule counting what it gave within
    its period before; the rest as `_rescore_known`. Returns the leads this cannot do
    (an activity gone, or one added that `_happenings` did not read), for a full
    rescore; and, by the rules' keys, those with one of a capped rule's trigger earlier
    than one scored (what the rule gave since may change): their other new happenings
    are awarded here, and the rules of those triggers are for
    `_rescore_tail` to redo from that happening on."""
    scored = {}
    for lead in leads.values():
        then, _, last = _scored_with(lead)[1].partition(":")
        scored[lead.id] = (int(then), int(last))
    _happenings(session, leads, SCORED_KINDS, after={i: last for i, (_, last) in scored.items()})
    capped = {r.trigger for r in rules if r.cap is not None and r.period_days}
    gaining = {i: lead for i, lead in leads.items()  # a capped rule's trigger: its cap counts
               if any(h.trigger in capped for h in lead.happenings)}  # fmt: skip
    latest = _latest(session, gaining, scored, capped)
    refused: dict[int, _Lead] = {}
    redone: dict[frozenset[str], dict[int, _Lead]] = {}
    for lead in leads.values():
        count, _ = scored[lead.id]
        now_count = int(lead.activities.partition(":")[0])
        if now_count - len(lead.added) != count or not lead.added:
            lead.happenings, lead.stored_at, lead.added = [], {}, []
            refused[lead.id] = lead
            continue
        last_scored = latest.get(lead.id, {})
        early = {
            h.trigger
            for h in lead.happenings
            if h.trigger in last_scored and h.at < last_scored[h.trigger]
        }
        if early:
            keys = frozenset(r.key for r in rules if r.trigger in early)
            lead.redo_from = min(h.at for h in lead.happenings if h.trigger in early)
            lead.happenings = [h for h in lead.happenings if h.trigger not in early]
            redone.setdefault(keys, {})[lead.id] = lead
    doing = {i: lead for i, lead in leads.items() if i not in refused}
    steps = plan(rules)
    earlier = _capped_before(session, doing, rules)
    for lead in doing.values():
        given = award_by(steps, lead.happenings, earlier.get(lead.id))
        out.adding += [_row(out, lead, a, when) for a in given]
        lead.extra += given
    later = {i for group in redone.values() for i in group}
    for i in later:
        doing[i].happenings, doing[i].stored_at = [], {}  # `_rescore_tail` reads its own
    settled = {i: lead for i, lead in doing.items() if i not in later}
    if settled:
        _refit_and_settle(session, settled, frozenset(), rules, ideal, out, when, {})
    return refused, redone


def _latest(
    session: Session,
    leads: dict[int, _Lead],
    scored: dict[int, tuple[int, int]],
    triggers: set[Trigger],
) -> dict[int, dict[Trigger, dt.datetime]]:
    """When each lead's latest scored activity of each of these triggers happened (an
    activity added earlier than that could change what a capped rule gave since)."""
    latest: dict[int, dict[Trigger, dt.datetime]] = {}
    kinds = [k for k, t in TRIGGERS.items() if t in triggers]
    if not kinds:
        return latest
    by_kind = {k.value: t for k, t in TRIGGERS.items()}
    for chunk in _spans(leads):
        top = max(scored[i][1] for i in chunk)
        # Added ones below another lead's last scored id: rare, named to be left out.
        since = [a for i in chunk for a in leads[i].added if a <= top]
        rows = driver_rows(session,
            select(Activity.lead_id, Activity.kind, func.max(Activity.occurred_at))
            .where(_among(Activity.lead_id, chunk), Activity.kind.in_(kinds), Activity.id <= top,
                   *((Activity.id.not_in(since),) if since else ()))
            .group_by(Activity.lead_id, Activity.kind)
        )  # fmt: skip
        for lead_id, kind, raw_at in rows:
            mine = latest.setdefault(lead_id, {})
            trigger, at = by_kind[kind], driver_time(raw_at)
            if trigger not in mine or at > mine[trigger]:  # two kinds of one trigger
                mine[trigger] = at
    return latest


def _capped_before(
    session: Session,
    leads: dict[int, _Lead],
    rules: Sequence[Rule],
    until: dict[int, dt.datetime] | None = None,
) -> dict[int, dict[str, list[tuple[dt.datetime, int]]]]:
    """Per lead, what each capped rule gave within its period before the lead's first
    new happening of a capped rule's trigger (nothing read for a lead without), oldest
    first (with `until`, only what it gave before the lead's time there: later awards
    are being redone)."""
    capped = {r.key: r.period_days for r in rules if r.cap is not None and r.period_days}
    triggers = {r.trigger for r in rules if r.key in capped}
    full = {r.key: r.points for r in rules}  # an event's points when stored as none
    found: dict[int, dict[str, list[tuple[dt.datetime, int]]]] = {}
    starts = {}  # the first new happening a cap counts, of the leads with one
    for lead_id, lead in leads.items():
        counted = [h.at for h in lead.happenings if h.trigger in triggers]
        if counted:
            starts[lead_id] = min(counted)
    if not capped or not starts:
        return found
    since = min(starts.values()) - dt.timedelta(days=max(capped.values()))
    for chunk in _spans(starts):
        rows = driver_rows(session,
            select(ScoreEvent.lead_id, ScoreEvent.rule, ScoreEvent.awarded_at, ScoreEvent.points)
            .where(_among(ScoreEvent.lead_id, chunk), ScoreEvent.part == Part.engagement,
                   ScoreEvent.rule.in_(sorted(capped)), ScoreEvent.awarded_at > since)
        )  # fmt: skip
        for lead_id, rule, raw_at, points in rows:
            at = driver_time(raw_at)
            if until is None or at < until[lead_id]:
                given = full[rule] if points is None else points
                found.setdefault(lead_id, {}).setdefault(rule, []).append((at, given))
    for by_rule in found.values():
        for given in by_rule.values():
            given.sort(key=_first)
    return found


def _refit_and_settle(
    session: Session,
    leads: dict[int, _Lead],
    keys: frozenset[str],
    rules: Sequence[Rule],
    ideal: IdealCustomer,
    out: _Out,
    when: Callable[[Any], Any],
    fresh: dict[int, list[Award]],
    fresh_rules: frozenset[str] | None = None,
) -> None:
    """The fit events diffed where they may have changed; the leads left to settle once
    every event is written (`_settle_all`: the score summed from the stored events and
    `fresh`, the awards of the rules in `fresh_rules`, else in `keys`)."""
    # Fit: only where the fit rules changed or a lead meets others than it did.
    fit_changed = bool(keys - {r.key for r in rules if r.part is Part.engagement})
    refit: dict[int, _Lead] = {}
    # Leads share a few profile objects (`_heads`): fit once for each (by identity, as a
    # profile's hash would add up its fields per lead).
    met: dict[int, str] = {}
    for lead in leads.values():
        fits_now = met.get(id(lead.profile))
        if fits_now is None:
            keys_met = tuple(a.rule for a in fit(rules, lead.profile, ideal, out.now))
            fits_now = met[id(lead.profile)] = _fits_digest(keys_met)
        lead.fits_now = fits_now
        if fit_changed or lead.fits_now != lead.fits:
            refit[lead.id] = lead
    fits = _stored(session, refit, part=Part.fit)
    for lead in refit.values():
        have = fits.get(lead.id, _NOTHING_STORED)
        awards = _fit(rules, lead.profile, ideal, have, out.now)
        add, drop = _diff(awards, _keys(lead, awards, have, out.rules), have)
        out.dropping += drop
        out.adding += [_row(out, lead, a, when) for a in add]
        if lead.kept is not None and (add or drop):  # its fit events are these awards now
            lead.kept.drop_fit()
            lead.extra += awards
            lead.touched = True
    settling = keys if fresh_rules is None else fresh_rules
    leaving, given = out.settling.setdefault(settling, ({}, {}))  # settled together at the end
    leaving.update(leads)
    given.update(fresh)


def _settle_all(session: Session, rules: Sequence[Rule], out: _Out) -> None:
    """The events gathered written, then the scores of the leads left to settle summed
    from them: a query per set of redone rules, however many ways the leads came by."""
    _write(session, out)
    order = {r.key: i for i, r in enumerate(rules)}
    groups = [(keys, leads, fresh) for keys, (leads, fresh) in out.settling.items()]
    seen = _sums(session, out, order, groups)
    for _, leads, _ in groups:
        for lead in leads.values():
            _settle(lead, seen[lead.id], out)
    out.settling.clear()


def _events_of(
    session: Session,
    leads: dict[int, _Lead],
    rules: frozenset[str],
    since: dict[int, dt.datetime] | None = None,
) -> dict[int, dict[tuple[str, int | None], tuple[Any, ...]]]:
    """The leads' stored engagement events of these rules (with `since`, those awarded
    at or after the lead's time there), by rule and activity: each its id, time as the
    driver returned it, points, half-life and reason."""
    found: dict[int, dict[tuple[str, int | None], tuple[Any, ...]]] = {}
    for chunk in _spans(leads):
        rows = driver_rows(session,
            select(ScoreEvent.lead_id, ScoreEvent.rule, ScoreEvent.activity_id, ScoreEvent.id,
                   ScoreEvent.awarded_at, ScoreEvent.points, ScoreEvent.half_life_days,
                   ScoreEvent.reason)
            .where(_among(ScoreEvent.lead_id, chunk), ScoreEvent.part == Part.engagement,
                   ScoreEvent.rule.in_(sorted(rules)),
                   *(() if since is None else
                     (ScoreEvent.awarded_at >= min(since[i] for i in chunk),)))
        )  # fmt: skip
        for lead_id, rule, source, *stored in rows:
            if since is not None and driver_time(stored[1]) < since[lead_id]:
                continue
            mine = found.setdefault(lead_id, {})
            if (rule, source) in mine:  # a second of a kind: the first is dropped
                mine[(rule, -len(mine))] = mine.pop((rule, source))
            mine[(rule, source)] = tuple(stored)
    return found


def _write(session: Session, out: _Out) -> None:
    """The events gathered so far: dropped, added."""
    for chunk in chunks(out.dropping):
        session.execute(delete(ScoreEvent).where(ScoreEvent.id.in_(chunk)))
    driver_insert(session, core_table(ScoreEvent), EVENT_COLUMNS, out.adding)
    out.dropping, out.adding = [], []


def _settle(lead: _Lead, seen: Standing, out: _Out) -> None:
    """The lead's temperature and next look from its standing, and what to write."""
    now, thresholds = out.now, out.thresholds
    hot = temperature(lead.temperature, seen.score, seen.last_engaged_at, now, thresholds)
    if hot is None and lead.first_look and _went_quiet(seen, now, thresholds, lead.then):
        hot = Temperature.cold
    last = lead.rescore_at if lead.rescore_at is not None and lead.rescore_at > now else None
    rescore_at = _look(seen, hot, seen.score, seen.last_engaged_at, thresholds, out.lines, last)
    if (seen.score, hot) != (lead.score, lead.temperature):
        out.moved.append(Change(lead.id, lead.score, seen.score, lead.temperature, hot))
    if hot is not lead.temperature:
        out.changes.append((lead.id, lead.temperature, hot))
    scored_with = f"{out.scored_with}:{lead.activities}:{lead.fits_now}"
    values = (seen.score, hot, rescore_at, seen.last_engaged_at, scored_with)
    was = (lead.score, lead.temperature, lead.rescore_at, lead.last_engaged_at, lead.scored_with)
    if values != was:
        out.updates.append((lead.id, tuple(map(operator.ne, values, was)), values))
    if lead.sums != lead.stored_sums:
        out.sums.append((lead.id, lead.sums))


# What `_settle` writes of a lead, in order: the columns of each (a temperature with when
# it changed).
_WRITES = (("score",), ("temperature", "temperature_changed_at"), ("rescore_at",),
           ("last_engaged_at",), ("scored_with",))  # fmt: skip


def _went_quiet(
    seen: Standing, now: dt.datetime, thresholds: Thresholds, then: int | None = None
) -> bool:
    """A lead that never had a temperature, quiet now, that was warm or hot when it last
    engaged (its score `then`, unless added up here): its history came in one go (a first
    sync, a backfill), and watched all along it would have been warm then and cold now,
    so it is cold."""
    last = seen.last_engaged_at
    if last is None or now - last < dt.timedelta(days=thresholds.cold_after_days):
        return False
    if then is None:
        then = exact_score(seen.newest_first, last)
    return temperature(None, then, last, last, thresholds) is not None


def _record(session: Session, out: _Out) -> None:
    """The changes of temperature, each at the rescore's moment, through the driver."""
    if not out.changes:
        return
    table = core_table(TemperatureChange)
    hot = driver_value(session, table.c.to_temperature)
    at = driver_value(session, table.c.changed_at)(out.now)
    columns = ("workspace_id", "lead_id", "from_temperature", "to_temperature", "changed_at")
    rows = [(out.workspace_id, lead_id, hot(was), hot(to), at) for lead_id, was, to in out.changes]
    driver_insert(session, table, columns, rows)


def _keep_sums(session: Session, out: _Out) -> None:
    """The leads' sums that changed, written (None: not to be kept, see `Sums.text`)."""
    if not out.sums:
        return
    for chunk in chunks(lead_id for lead_id, text in out.sums if text is None):
        session.execute(delete(ScoreSums).where(ScoreSums.lead_id.in_(chunk)))
    rows = [(lead_id, out.workspace_id, text) for lead_id, text in out.sums if text is not None]
    columns = ("lead_id", "workspace_id", "sums")
    driver_insert(session, core_table(ScoreSums), columns, rows, key="lead_id")


def _update(
    session: Session, updates: list[tuple[int, tuple[bool, ...], tuple[Any, ...]]], now: dt.datetime
) -> None:
    """The leads' new scores, temperatures and next looks, through the driver (a workspace
    rescore writes a hundred thousand): of each lead only what changed (an unchanged
    column keeps its index as it is), an executemany per set of columns; `updated_at` as
    the ORM would set it."""
    if not updates:
        return
    table = core_table(Lead)
    time = driver_value(session, table.c.rescore_at)
    hot = driver_value(session, table.c.temperature)
    stamp, moved_at = time(utcnow()), time(now)
    picks: dict[tuple[bool, ...], list[int]] = {}  # per set of changes, the _WRITES changed
    rows: dict[tuple[bool, ...], list[tuple[Any, ...]]] = {}
    for lead_id, changed, values in updates:
        picked = picks.get(changed)
        if picked is None:
            picked = picks[changed] = [i for i, change in enumerate(changed) if change]
        row: list[Any] = []
        for i in picked:
            if i == 1:
                row += (hot(values[1]), moved_at)
            elif i == 2 or i == 3:
                row.append(time(values[i]))
            else:
                row.append(values[i])
        row += (stamp, lead_id)
        rows.setdefault(changed, []).append(tuple(row))
    for changed, written in rows.items():
        columns = [c for i in picks[changed] for c in _WRITES[i]]
        driver_update(session, table, (*columns, "updated_at"), written)
    fields = [c for columns in _WRITES for c in columns] + ["updated_at"]
    ids = {lead_id for lead_id, _, _ in updates}
    for key in list(session.identity_map.keys()):  # objects loaded read the new values
        if key[0] is Lead and key[1][0] in ids:
            session.expire(session.identity_map[key], fields)


_TEMPERATURES = {t.value: t for t in Temperature}  # faster than calling the enum


def _heads(session: Session, workspace_id: int, ids: set[int]) -> dict[int, _Lead]:
    """The leads, with what they were scored from and their scored activities' count and
    last id now. Read as the driver returns rows: at a hundred thousand leads
    SQLAlchemy's conversion of each value would cost more than the scoring."""
    leads: dict[int, _Lead] = {}
    profiles: dict[tuple[Any, ...], Profile] = {}  # one object per distinct profile
    for chunk in _spans(ids):
        rows = driver_rows(session,
            select(Lead.id, Lead.title, Lead.budget, Lead.authority, Lead.need, Lead.timeline,
                   Company.industry, Company.size, Lead.score, Lead.temperature, Lead.rescore_at,
                   Lead.temperature_changed_at, Lead.last_engaged_at, Lead.scored_with,
                   ScoreSums.sums)
            .outerjoin(Company, Company.id == Lead.company_id)
            .outerjoin(ScoreSums, ScoreSums.lead_id == Lead.id)
            .where(Lead.workspace_id == workspace_id, _among(Lead.id, chunk))
        )  # fmt: skip
        for r in rows:
            fields = r[1:8]
            profile = profiles.get(fields)
            if profile is None:
                profile = profiles[fields] = Profile(*(_text(value) for value in fields))
            hot = None if r[9] is None else _TEMPERATURES[r[9]]
            at = None if r[10] is None else driver_time(r[10])
            engaged = None if r[12] is None else driver_time(r[12])
            leads[r[0]] = _Lead(r[0], profile, r[8], hot, at, [], hot is None and r[11] is None,
                                engaged, scored_with=r[13], stored_sums=r[14], sums=r[14],
                                kept=None if r[13] is None else read(r[14]))  # fmt: skip
    for chunk in _spans(leads):
        counts = driver_rows(session,
            select(Activity.lead_id, func.count(), func.max(Activity.id))
            .where(_among(Activity.lead_id, chunk), Activity.kind.in_(SCORED_KINDS))
            .group_by(Activity.lead_id)
        )  # fmt: skip
        for lead_id, count, last in counts:
            leads[lead_id].activities = f"{count}:{last}"
    return leads


def _happenings(
    session: Session,
    leads: dict[int, _Lead],
    kinds: Sequence[ActivityKind],
    after: dict[int, int] | None = None,
    since: dict[int, dt.datetime] | None = None,
) -> None:
    """The leads' activities of these kinds, as happenings, oldest first; with `after`,
    only those with a higher id than the lead's there and than any lead's of its query,
    each counted (`_Lead.added`): a sync batch's new activities are above every id scored
    before, and reading from the lowest would read most of its leads' history. One below
    another lead's, never scored (a merge's), is missed, and the lead's count tells
    (`_rescore_appended`). With `since`, those that happened at or after the lead's time
    there."""
    subjects: dict[str | None, str] = {}
    triggers = {kind.value: trigger for kind, trigger in TRIGGERS.items()}
    new = tuple.__new__  # a NamedTuple without its Python-level __new__
    nothing = null()
    latency_of = driver_member(session, Activity.detail, "latency_seconds")
    type_of = driver_member(session, Activity.detail, "type")
    if ActivityKind.reply not in kinds:
        latency_of = nothing
    if ActivityKind.bounce not in kinds:
        type_of = nothing
    for chunk in _spans(leads):
        rows = driver_rows(session,
            select(Activity.id, Activity.lead_id, Activity.kind, Activity.occurred_at,
                   latency_of, type_of, Message.subject)
            .outerjoin(Message, Message.id == Activity.message_id)
            .where(_among(Activity.lead_id, chunk), Activity.kind.in_(kinds),
                   *(() if after is None else
                     (Activity.id > max(after.get(i, 0) for i in chunk),)),
                   *(() if since is None else
                     (Activity.occurred_at >= min(since[i] for i in chunk),)))
            .order_by(Activity.occurred_at, Activity.id)
        )  # fmt: skip
        for activity_id, lead_id, kind, raw_at, latency, bounce, subject in rows:
            if after is not None:
                if activity_id <= after.get(lead_id, 0):
                    continue
                leads[lead_id].added.append(activity_id)
            # as `happening` reads an activity, without a dict per row
            if kind == BOUNCE and bounce != "hard":
                continue
            if subject not in subjects:
                subjects[subject] = _subject(subject)
            at = driver_time(raw_at)
            if since is not None and at < since[lead_id]:
                continue
            waited = None
            if kind == REPLY and isinstance(latency, (int, float)):
                waited = dt.timedelta(seconds=latency)
            lead = leads[lead_id]
            lead.happenings.append(new(Happening, (triggers[kind], at, subjects[subject], waited,
                                                   activity_id)))  # fmt: skip
            lead.stored_at[activity_id] = (raw_at, at)


def _epoch(column: Any) -> ColumnElement[float]:
    """A stored time as seconds since the epoch, to the microsecond (PostgreSQL)."""
    return cast(func.extract("epoch", column), Float)


def _apart(session: Session, later: Any, earlier: Any) -> ColumnElement[float]:
    """The seconds between two stored times, to a millisecond or so: for comparisons with
    a second to spare."""
    if session.get_bind().dialect.name == "sqlite":
        return (func.julianday(later) - func.julianday(earlier)) * 86400.0
    return _epoch(later) - _epoch(earlier)


# SQLite's julianday reads a time to the millisecond: an award's age in days may be off
# by half a millisecond (and the double's last bits), which moves its worth by at most
# ln 2 x 5.8e-9 of a point for a half-life of one day (the shortest a rule may have). A
# quick sum from SQLite is trusted that much less, per point awarded: its `scale` counts
# each point JULIAN_STRAY times (TOLERANCE apiece), so a sum that close to a half point is
# added up award by award instead.
JULIAN_STRAY = 6


def _ages(session: Session, now: dt.datetime, column: Any) -> tuple[ColumnElement[Any], int]:
    """Days from a stored time to `now`, and how many TOLERANCEs per point a sum of worths
    at those ages may stray. SQLite's julianday parses the text once (seconds and their
    fraction took two parses and a fifth of the sums' time), to the millisecond."""
    if session.get_bind().dialect.name == "sqlite":
        julian = now.timestamp() / 86400.0 + 2440587.5  # the Unix epoch's julian day
        return literal(julian, Float) - func.julianday(column), JULIAN_STRAY
    return (literal(now.timestamp(), Float) - _epoch(column)) / 86400.0, 1


def _sums(
    session: Session,
    out: _Out,
    order: dict[str, int],
    groups: Sequence[tuple[frozenset[str], dict[int, _Lead], dict[int, list[Award]]]],
) -> dict[int, Standing]:
    """The leads' standings from their stored events, added up per rule, as `standing`
    adds them up award by award: from the sums kept for the lead where they are, else in
    SQL. Where the sum is too close to a half point to round for sure, awards are
    dated later, or a lead seen first needs its score when it last engaged, its events
    are read and added up award by award instead. Each group names the rules whose
    engagement events were just awarded (`fresh_rules`), its leads, and those awards
    (`fresh`): added here, not summed from what was stored. A query per group summed in
    SQL (one, for a sync batch), and one for all the leads read award by award. Sets each
    lead's `sums` as they now are."""
    now, at = out.now, micros(out.now)
    sums: dict[int, Sums] = {}
    for fresh_rules, leads, fresh in groups:
        summing: dict[int, _Lead] = {}
        for lead in leads.values():
            s = lead.kept
            if s is None:
                summing[lead.id] = lead
                continue
            touched = s.drop(fresh_rules) | lead.touched
            if not s.moved(at, out.rules):
                summing[lead.id] = lead
                continue
            sums[lead.id] = s
            for adding in (fresh.get(lead.id), lead.extra):
                if adding:
                    s.add(adding, out.rules)
                    touched = True
            if touched:
                lead.sums = s.text()
        if summing:
            _sum_rows(session, out, summing, fresh_rules, sums)
            for lead in summing.values():
                s = sums.setdefault(lead.id, Sums(at))
                s.add(fresh.get(lead.id, ()), out.rules)
                lead.sums = s.text()
    quiet = dt.timedelta(days=out.thresholds.cold_after_days)
    seen: dict[int, Standing] = {}
    exact: list[int] = []
    for _, leads, _ in groups:
        for lead in leads.values():
            s = sums[lead.id]
            steady, fading, scale, rising, last_us = s.folded()
            total = steady + sum(fading.values())
            if s.odd or abs(total - math.floor(total) - 0.5) <= TOLERANCE * scale:
                exact.append(lead.id)
                continue
            last = None
            if last_us is not None:
                last = moment(last_us)
                if lead.first_look and now - last >= quiet:
                    lead.then = s.score_at(last_us)  # was it warm then? (`_went_quiet`)
                    if lead.then is None:
                        exact.append(lead.id)
                        continue
            awards = _Unread(session, lead.id, out, order)
            seen[lead.id] = Standing(now, max(0, round(total)), last, awards, steady, fading,
                                     scale, False, rising)  # fmt: skip
    awards_of = _events(session, exact, out.rules, order)
    for lead_id in exact:
        seen[lead_id] = standing(awards_of.get(lead_id, []), now)
    return seen


def _sum_rows(
    session: Session,
    out: _Out,
    leads: dict[int, _Lead],
    fresh_rules: frozenset[str],
    sums: dict[int, Sums],
) -> None:
    """The leads' stored events given by now added up per rule into `sums` (but for the
    engagement events of `fresh_rules`), and the leads with events dated later marked (a
    query of the index alone: rare, and asking each event in the sums whether it is
    given cost a sixth of them)."""
    now, at = out.now, micros(out.now)
    given = ScoreEvent.awarded_at <= now
    points, half_life = _as_given(out.rules)
    days, stray = _ages(session, now, ScoreEvent.awarded_at)
    faded = points * func.power(literal(0.5, Float), days / half_life)
    worth = case((half_life.is_(None), cast(points, Float)), else_=faded)
    engaged = and_(ScoreEvent.part == Part.engagement, points > 0)
    skip: tuple[ColumnElement[bool], ...] = ()
    if fresh_rules:
        fresh = ScoreEvent.rule.in_(sorted(fresh_rules))
        skip = (~and_(ScoreEvent.part == Part.engagement, fresh),)
    for chunk in _spans(leads):
        among = _among(ScoreEvent.lead_id, chunk)
        rows = driver_rows(session,
            select(ScoreEvent.lead_id, ScoreEvent.part, ScoreEvent.rule, half_life,
                   func.sum(worth), func.sum(func.abs(points)),
                   func.max(case((engaged, ScoreEvent.awarded_at))), func.max(points),
                   func.max(ScoreEvent.awarded_at))
            .where(among, given, *skip)
            .group_by(ScoreEvent.lead_id, ScoreEvent.part, ScoreEvent.rule, half_life)
        )  # fmt: skip
        for lead_id, part, rule, days_to_half, total, points, last, most, latest in rows:
            s = sums.get(lead_id)
            if s is None:
                s = sums[lead_id] = Sums(at)
            last_us = None if last is None else micros(driver_time(last))
            entry = [days_to_half or 0, float(total), points * stray, last_us,
                     out.points.get(rule, most), None, micros(driver_time(latest))]  # fmt: skip
            s.put(entry_name(part, rule), entry)
        later = driver_rows(session, select(ScoreEvent.lead_id).distinct()
                            .where(among, ~given, *skip))  # fmt: skip
        for (lead_id,) in later:
            sums.setdefault(lead_id, Sums(at)).odd = True


def _as_given(rules: Mapping[str, Rule]) -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """An event's points and half-life in SQL, those stored as none the rule's (`stored`)."""
    full = ScoreEvent.points.is_(None)
    points = {key: r.points for key, r in rules.items()}
    fades = {key: r.half_life_days for key, r in rules.items() if r.half_life_days}
    rule_points = case(points, value=ScoreEvent.rule, else_=0) if points else literal(0)
    rule_fade = case(fades, value=ScoreEvent.rule, else_=null()) if fades else null()
    return (
        func.coalesce(ScoreEvent.points, rule_points),
        case((full, rule_fade), else_=ScoreEvent.half_life_days),
    )


def _events(
    session: Session, ids: list[int], rules: Mapping[str, Rule], order: dict[str, int]
) -> dict[int, list[Award]]:
    """The leads' stored events as awards by these rules (by key), in the order a full
    rescore gives them (by time, then activity, then rule, fit last), so they add up to
    the same floats."""
    awards: dict[int, list[Award]] = {}
    for chunk in _spans(ids):
        rows = driver_rows(session,
            select(ScoreEvent.lead_id, ScoreEvent.rule, ScoreEvent.part, ScoreEvent.points,
                   ScoreEvent.awarded_at, ScoreEvent.half_life_days, ScoreEvent.reason,
                   ScoreEvent.activity_id)
            .where(_among(ScoreEvent.lead_id, chunk))
        )  # fmt: skip
        for lead_id, rule, part, points, at, half_life, why, source in rows:
            awards.setdefault(lead_id, []).append(
                stored_award(rules, rule, Part(part), points, driver_time(at), half_life, why,
                             source)
            )  # fmt: skip
    last = len(order)
    for given in awards.values():
        given.sort(key=lambda a: (a.at, a.source is None, a.source or 0, order.get(a.rule, last)))
    return awards


class _Unread(Sequence[Award]):
    """A lead's awards newest first, read from its stored events only when asked for: when
    a quick sum later is too close to call."""

    def __init__(self, session: Session, lead_id: int, out: _Out, order: dict[str, int]):
        self._read = session, lead_id, out, order
        self._awards: Sequence[Award] | None = None

    def _all(self) -> Sequence[Award]:
        if self._awards is None:
            session, lead_id, out, order = self._read
            awards = _events(session, [lead_id], out.rules, order).get(lead_id, [])
            self._awards = standing(awards, out.now).newest_first
        return self._awards

    def __len__(self) -> int:
        return len(self._all())

    def __getitem__(self, index: Any) -> Any:
        return self._all()[index]

    def __iter__(self) -> Iterator[Award]:
        return iter(self._all())


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


def _stored(
    session: Session, leads: dict[int, _Lead], part: Part | None = None
) -> dict[int, _Stored]:
    """The leads' stored events (of one part, or all)."""
    stored: dict[int, _Stored] = {}
    for chunk in _spans(leads):
        rows = driver_rows(session,
            select(ScoreEvent.lead_id, ScoreEvent.id, ScoreEvent.rule, ScoreEvent.part,
                   ScoreEvent.points, ScoreEvent.awarded_at, ScoreEvent.half_life_days,
                   ScoreEvent.reason, ScoreEvent.activity_id)
            .where(_among(ScoreEvent.lead_id, chunk),
                   *(() if part is None else (ScoreEvent.part == part,)))
            .order_by(ScoreEvent.lead_id, ScoreEvent.id)
        )  # fmt: skip
        fit = Part.fit.value
        for lead_id, events in itertools.groupby(rows, key=_first):
            have = stored[lead_id] = _Stored()
            for row in events:
                have.ids.append(row[1])
                have.keys.append(row[2:])
                if row[3] == fit:
                    have.fit_since[row[2]] = (row[5], driver_time(row[5]))  # the last stands
    return stored


def _first(row: Any) -> Any:
    return row[0]


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


def _keys(
    lead: _Lead, awards: list[Award], have: _Stored, rules: Mapping[str, Rule]
) -> list[tuple[Any, ...]]:
    """Each award as a stored event's key: its fields as stored (`stored.form`, by these
    rules), with its time as the driver returned the activity's (or the fit award's
    first) time. Equal texts are equal times, so the stored events need no reading of
    their times; a time stored in another form only costs a rewrite of its event."""
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
        points, half_life, reason = form(rules.get(a.rule), a.points, a.half_life_days, a.reason)
        keys.append((a.rule, a.part.value, points, at, half_life, reason, a.source))
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


def _row(out: _Out, lead: _Lead, a: Award, when: Callable[[Any], Any]) -> tuple[Any, ...]:
    """An award as EVENT_COLUMNS' values for the driver, as stored (`stored.form`): its
    time as the activity's was read, when it is that activity's."""
    known = lead.stored_at.get(a.source) if a.source is not None else None
    at = known[0] if known is not None and known[1] == a.at else when(a.at)
    points, half_life, reason = form(out.rules.get(a.rule), a.points, a.half_life_days, a.reason)
    return (out.workspace_id, lead.id, a.rule, a.part.value, points, half_life, at,
            reason[:300], a.source)  # fmt: skip


def next_look(
    awards: Sequence[Award],
    current: Temperature | None,
    score: int,
    last_engaged_at: dt.datetime | None,
    now: dt.datetime,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    guess: dt.datetime | None = None,
) -> dt.datetime | None:
    """When, with no new mail, the temperature would change or the score would have faded
    by DRIFT points (or to nothing): the first day of the next LOOK_AHEAD_DAYS it does, or
    the end of that look ahead while points are still fading; None when nothing will.
    `guess`: a moment it may be near, looked at first (the same answer, found sooner)."""
    seen = standing(awards, now)
    lines = _lines_for(thresholds)
    return _look(seen, current, score, last_engaged_at, thresholds, lines, guess)


def _look(
    seen: Standing,
    current: Temperature | None,
    score: int,
    last_engaged_at: dt.datetime | None,
    thresholds: Thresholds,
    lines: dict[tuple[Any, ...], tuple[int, int] | None],
    guess: dt.datetime | None = None,
) -> dt.datetime | None:
    """`next_look` from the awards' standing now: each day's score is a few
    multiplications (see `Standing.later`), and the day is found by halving, from the
    day of `guess` and the one before, when given: the lead's last look, still ahead,
    names the same moment when nothing changed since but the rules (a workspace
    rescore; looked ahead a day or more later, the moments are other days, and the
    first that changes is the one at or after the change, or the one before). `lines`:
    `_lines_for` the thresholds, looked up once by the caller.

    Halving is sound while the score only falls (no points dated later, no fading
    negative points): then a moment is a change when its score is at most a line that
    depends on whether the lead is quiet by then (`_lines`), and once a change, every
    later moment is."""
    fading = bool(seen.fading)  # an award with a half-life, given by now
    if not fading and current in (None, Temperature.cold):
        return None
    now = seen.now
    moments, ahead = _days_ahead(now)
    quiet = None if last_engaged_at is None else last_engaged_at + thresholds.quiet
    if quiet is not None and quiet > now:
        at = bisect.bisect(moments, quiet)
        moments, ahead = moments[:], ahead[:]
        moments.insert(at, quiet)
        ahead.insert(at, (quiet - now).total_seconds() / DAY_SECONDS)
    line = None
    if not seen.rising:
        key = (current, score, quiet is not None, quiet is not None and quiet <= now)
        line = lines.get(key, _UNKNOWN)
        if line is _UNKNOWN:
            line = lines[key] = _lines(*key, thresholds)
    if line is None:
        found = next((m for m in moments if _changes(seen, current, score, last_engaged_at, m,
                                                      thresholds)), None)  # fmt: skip
    else:
        low, high = 0, len(moments)  # the first moment that changes is in [low, high]
        first = None if guess is None else bisect.bisect_left(moments, guess)
        tries = [] if first is None else [first, first - 1]
        while low < high:
            middle = tries.pop(0) if tries else (low + high) // 2
            if not low <= middle < high:
                continue  # a guess outside what is left
            moment = moments[middle]
            if seen.later(moment, ahead[middle]) <= line[quiet is not None and moment >= quiet]:
                high = middle
            else:
                low = middle + 1
        found = moments[low] if low < len(moments) else None
    if found is not None:
        return found
    return moments[-1] if fading and score > 0 else None


def _changes(
    seen: Standing,
    current: Temperature | None,
    score: int,
    last_engaged_at: dt.datetime | None,
    moment: dt.datetime,
    thresholds: Thresholds,
) -> bool:
    """Whether the lead's temperature changes by `moment`, or its score falls DRIFT points
    (or to nothing)."""
    later = seen.later(moment)
    hot = temperature(current, later, last_engaged_at, moment, thresholds)
    return hot is not current or score - later >= DRIFT or (score > 0 and later == 0)


_UNKNOWN: Any = object()


@functools.lru_cache(maxsize=16)
def _lines_for(thresholds: Thresholds) -> dict[tuple[Any, ...], tuple[int, int] | None]:
    """`_lines` by its other arguments, for these thresholds: a few thousand at most, kept
    across rescores (a sync batch's leads would each work theirs out anew)."""
    return {}


def _lines(
    current: Temperature | None, score: int, engaged: bool, quiet_now: bool, thresholds: Thresholds
) -> tuple[int, int] | None:
    """For a lead at `score` and `current` now whose score only falls: the highest score
    a later moment may have and change (`_changes`), while the lead is not quiet yet and
    once it is (-1: none); every lower score changes too (DRIFT below `score` always
    does). None when a lower score would not always change, or when being quiet would
    make a change less likely: then each moment is looked at in turn."""
    found = []
    for quiet in (True,) * 2 if quiet_now else (False, True):
        line = None
        for later in range(score, max(score - DRIFT, 0) - 1, -1):
            hot = temperature_if(current, later, quiet, thresholds) if engaged else None
            changes = hot is not current or score - later >= DRIFT or (score > 0 and later == 0)
            if changes and line is None:
                line = later
            elif not changes and line is not None:
                return None  # a change at a higher score than one without
        found.append(-1 if line is None else line)
    if found[0] > found[1]:
        return None
    return found[0], found[1]


@functools.lru_cache(maxsize=4)
def _days_ahead(now: dt.datetime) -> tuple[list[dt.datetime], list[float]]:
    """The look ahead's days, and how many days ahead each is (a rescore asks for the
    same `now` once per lead)."""
    moments = [now + dt.timedelta(days=d) for d in range(1, LOOK_AHEAD_DAYS + 1)]
    return moments, [(m - now).total_seconds() / DAY_SECONDS for m in moments]
