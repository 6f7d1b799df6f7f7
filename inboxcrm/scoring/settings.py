"""A workspace's scoring settings: its rules, temperature lines and ideal customer.

Read in one query. A workspace that never changed them has no rows and gets the
defaults, so improved defaults reach it and creating a workspace (in `accounts`, below
scoring) writes nothing here; its first change stores the defaults with that change, and
from then on its rows are its settings. Admins change them; every change queues all the
workspace's leads for a rescore (one UPDATE of `Lead.rescore_at`), which the clock's
rescore job works off, and `progress` says how far it got."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, cast

from sqlalchemy import CursorResult, delete, func, select, update
from sqlalchemy.orm import Session

from inboxcrm.accounts.models import Member
from inboxcrm.accounts.permissions import require_admin
from inboxcrm.errors import Invalid, NotFound
from inboxcrm.leads.models import Lead
from inboxcrm.scoring.awards import IdealCustomer
from inboxcrm.scoring.models import ScoreRule, ScoreSettings
from inboxcrm.scoring.rules import DEFAULT_RULES, Rule, Trigger, check_rule
from inboxcrm.scoring.temperature import Thresholds

CHANGE = "change the scoring settings"
MAX_RULES = 50
MAX_IDEAL = 30  # industries, and sizes, of the ideal customer


@dataclass(frozen=True)
class Setting:
    """A rule as the workspace has it: turned on or off."""

    rule: Rule
    enabled: bool = True


@dataclass(frozen=True)
class Scoring:
    settings: tuple[Setting, ...]
    thresholds: Thresholds
    ideal: IdealCustomer
    own: bool = False  # stored, rather than the defaults

    @property
    def rules(self) -> tuple[Rule, ...]:
        """The rules that score: the ones turned on."""
        return tuple(s.rule for s in self.settings if s.enabled)


DEFAULTS = Scoring(tuple(Setting(r) for r in DEFAULT_RULES), Thresholds(), IdealCustomer())


def _rule(row: ScoreRule) -> Rule:
    return Rule(row.key, row.name, row.trigger, row.points, row.half_life_days, row.cap,
                row.period_days, row.within_hours)  # fmt: skip


def scoring_of(session: Session, workspace_id: int) -> Scoring:
    """The workspace's settings, in one query."""
    rows = session.execute(
        select(ScoreSettings, ScoreRule)
        .outerjoin(ScoreRule, ScoreRule.workspace_id == ScoreSettings.workspace_id)
        .where(ScoreSettings.workspace_id == workspace_id)
        .order_by(ScoreRule.position, ScoreRule.id)
    ).all()
    if not rows:
        return DEFAULTS
    row = rows[0][0]
    return Scoring(
        tuple(Setting(_rule(r), r.enabled) for _, r in rows if r is not None),
        Thresholds(row.hot, row.warm, row.margin, row.cold_after_days),
        IdealCustomer(frozenset(row.industries or ()), frozenset(row.sizes or ())),
        own=True,
    )


def chosen(
    session: Session,
    workspace_id: int,
    rules: Sequence[Rule] | None,
    ideal: IdealCustomer | None,
    thresholds: Thresholds | None,
) -> tuple[Sequence[Rule], IdealCustomer, Thresholds]:
    """The settings a rescore uses: those given, the workspace's for the rest (one query,
    none when all are given)."""
    if rules is not None and ideal is not None and thresholds is not None:
        return rules, ideal, thresholds
    own = scoring_of(session, workspace_id)
    return (
        own.rules if rules is None else rules,
        own.ideal if ideal is None else ideal,
        own.thresholds if thresholds is None else thresholds,
    )


# --- reading what people type -------------------------------------------------------------

KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")


def _number(values: Mapping[str, Any], name: str, problems: dict[str, str]) -> int | None:
    """A whole number from a form (text) or JSON (a number); blank or null: None."""
    raw = values.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if isinstance(raw, int) and not isinstance(raw, bool):
        return raw
    if isinstance(raw, str):
        try:
            return int(raw.strip().replace(",", ""))
        except ValueError:
            pass
    problems[name] = f"{name.replace('_', ' ')} must be a whole number, not {str(raw)[:20]!r}"
    return None


def _flag(raw: Any) -> bool:
    if isinstance(raw, str):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    return bool(raw)


def parse_rule(values: Mapping[str, Any], key: str) -> Setting:
    """A rule from a form's or a JSON body's fields (`trigger`, `name`, `points`,
    `half_life_days`, `cap`, `period_days`, `within_hours`, `enabled`), checked: Invalid
    with a message per field to fix."""
    problems: dict[str, str] = {}
    trigger = values.get("trigger")
    if not isinstance(trigger, str) or trigger not in Trigger.__members__:
        problems["trigger"] = f"choose what the rule reacts to: {', '.join(Trigger)}"
    name = values.get("name")
    if name is not None and not isinstance(name, str):
        problems["name"] = "the name must be text"
    points = _number(values, "points", problems)
    if points is None and "points" not in problems:
        problems["points"] = "give the points the rule awards (negative ones cost)"
    numbers = {n: _number(values, n, problems) for n in
               ("half_life_days", "cap", "period_days", "within_hours")}  # fmt: skip
    rule = Rule(
        key,
        (name if isinstance(name, str) else "").strip(),
        Trigger(trigger)
        if isinstance(trigger, str) and "trigger" not in problems
        else Trigger.reply,
        points or 0,
        **numbers,
    )
    try:
        check_rule(rule)
    except Invalid as exc:
        problems = {**exc.fields, **problems}  # a field that was not read says so first
    if problems:
        raise Invalid("the score rule has values to fix", problems)
    return Setting(rule, _flag(values.get("enabled", True)))


def parse_thresholds(values: Mapping[str, Any]) -> Thresholds:
    problems: dict[str, str] = {}
    numbers = {n: _number(values, n, problems) for n in ("hot", "warm", "margin",
                                                          "cold_after_days")}  # fmt: skip
    for name, value in numbers.items():
        if value is None and name not in problems:
            problems[name] = f"give {name.replace('_', ' ')} a number"
    # The rest is checked too, a default standing in for what could not be read.
    defaults = DEFAULTS.thresholds
    thresholds = Thresholds(**{n: getattr(defaults, n) if v is None else v
                               for n, v in numbers.items()})  # fmt: skip
    if not 0 < thresholds.hot <= 1000:
        problems.setdefault("hot", "hot is above 0 and at most 1,000")
    try:
        thresholds.checked()
    except Invalid as exc:
        problems = {**exc.fields, **problems}
    if problems:
        raise Invalid("the temperature settings have values to fix", problems)
    return thresholds


def _words(raw: Any, name: str, problems: dict[str, str]) -> frozenset[str]:
    """A list of names, from JSON (a list) or a form (separated by commas or lines)."""
    if raw is None:
        return frozenset()
    if isinstance(raw, str):
        raw = re.split(r"[,\n]", raw)
    if not isinstance(raw, list) or not all(isinstance(w, str) for w in raw):
        problems[name] = f"{name} is a list of names"
        return frozenset()
    words = frozenset(w.strip().lower() for w in raw if w.strip())
    if len(words) > MAX_IDEAL or any(len(w) > 80 for w in words):
        problems[name] = f"at most {MAX_IDEAL} {name}, each at most 80 characters"
    return words


def parse_ideal(values: Mapping[str, Any]) -> IdealCustomer:
    problems: dict[str, str] = {}
    ideal = IdealCustomer(
        _words(values.get("industries"), "industries", problems),
        _words(values.get("sizes"), "sizes", problems),
    )
    if problems:
        raise Invalid("the ideal customer has values to fix", problems)
    return ideal


def new_key(name: str, taken: set[str]) -> str:
    """A key for a rule named `name`: its words, lower-cased, unique in the workspace."""
    base = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")[:32] or "rule"
    if not base[0].isalpha():
        base = f"rule_{base}"[:32]
    key, n = base, 2
    while key in taken:
        key, n = f"{base}_{n}", n + 1
    return key


# --- changing them ------------------------------------------------------------------------


def _stored(session: Session, workspace_id: int) -> ScoreSettings:
    """The workspace's row; the first change stores the defaults first."""
    row = session.scalar(select(ScoreSettings).where(ScoreSettings.workspace_id == workspace_id))
    if row is not None:
        return row
    t = DEFAULTS.thresholds
    row = ScoreSettings(workspace_id=workspace_id, hot=t.hot, warm=t.warm, margin=t.margin,
                        cold_after_days=t.cold_after_days, industries=[], sizes=[],
                        rescore_total=0)  # fmt: skip
    session.add(row)
    _write_rules(session, workspace_id, DEFAULTS.settings)
    session.flush()
    return row


def _write_rules(session: Session, workspace_id: int, settings: Sequence[Setting]) -> None:
    session.execute(delete(ScoreRule).where(ScoreRule.workspace_id == workspace_id))
    session.add_all(
        ScoreRule(
            workspace_id=workspace_id,
            key=s.rule.key,
            name=s.rule.name,
            trigger=s.rule.trigger,
            points=s.rule.points,
            half_life_days=s.rule.half_life_days,
            cap=s.rule.cap,
            period_days=s.rule.period_days,
            within_hours=s.rule.within_hours,
            enabled=s.enabled,
            position=i,
        )
        for i, s in enumerate(settings)
    )


def replace_settings(session: Session, actor: Member, changed: Scoring, now: dt.datetime) -> bool:
    """Store `changed` as the actor's workspace's settings (admins only); unless nothing
    changed, queue every lead of the workspace for a rescore. Flushes; returns whether
    anything changed."""
    require_admin(actor, CHANGE)
    workspace_id = actor.workspace_id
    keys = [s.rule.key for s in changed.settings]
    if len(keys) != len(set(keys)):
        raise Invalid("two rules have the same key", {"rules": "each rule needs its own key"})
    if len(keys) > MAX_RULES:
        raise Invalid(f"at most {MAX_RULES} rules", {"rules": f"at most {MAX_RULES} rules"})
    before = scoring_of(session, workspace_id)
    if replace(before, own=True) == replace(changed, own=True):
        return False
    row = _stored(session, workspace_id)
    t = changed.thresholds
    row.hot, row.warm, row.margin, row.cold_after_days = t.hot, t.warm, t.margin, t.cold_after_days
    row.industries, row.sizes = sorted(changed.ideal.industries), sorted(changed.ideal.sizes)
    if before.settings != changed.settings or not before.own:
        _write_rules(session, workspace_id, changed.settings)
    _queue_rescore(session, row, now)
    session.flush()
    return True


def change_rule(
    session: Session, actor: Member, key: str | None, setting: Setting, now: dt.datetime
) -> tuple[Setting, bool]:
    """Add a rule (`key` None: one is made from its name) or change the rule `key`: the
    rule as stored, and whether anything changed."""
    require_admin(actor, CHANGE)
    current = scoring_of(session, actor.workspace_id)
    settings = list(current.settings)
    if key is None:
        key = new_key(setting.rule.name, {s.rule.key for s in settings})
        setting = replace(setting, rule=replace(setting.rule, key=key))
        settings.append(setting)
    else:
        at = _index(settings, key)
        setting = replace(setting, rule=replace(setting.rule, key=key))
        settings[at] = setting
    changed = replace_settings(session, actor, replace(current, settings=tuple(settings)), now)
    return setting, changed


def remove_rule(session: Session, actor: Member, key: str, now: dt.datetime) -> Rule:
    require_admin(actor, CHANGE)
    current = scoring_of(session, actor.workspace_id)
    settings = list(current.settings)
    gone = settings.pop(_index(settings, key))
    replace_settings(session, actor, replace(current, settings=tuple(settings)), now)
    return gone.rule


def _index(settings: list[Setting], key: str) -> int:
    for i, s in enumerate(settings):
        if s.rule.key == key:
            return i
    raise NotFound(f"no score rule {key!r}")


def _queue_rescore(session: Session, row: ScoreSettings, now: dt.datetime) -> None:
    """Every lead of the workspace due for a rescore now: one UPDATE. A lead the job has
    claimed meanwhile is queued again (its release leaves a new due time alone)."""
    result = cast(
        CursorResult[Any],
        session.execute(
            update(Lead).where(Lead.workspace_id == row.workspace_id).values(rescore_at=now),
            execution_options={"synchronize_session": False},
        ),
    )
    row.rescore_from, row.rescore_total = now, result.rowcount


@dataclass(frozen=True)
class Progress:
    done: int
    total: int

    @property
    def finished(self) -> bool:
        return self.done >= self.total


def progress(session: Session, workspace_id: int) -> Progress | None:
    """How far the rescore the last change queued has got; None when none was queued.
    The leads left are those still due at or before the change (a rescore sets a lead's
    next look days ahead, or clears it)."""
    row = session.scalar(select(ScoreSettings).where(ScoreSettings.workspace_id == workspace_id))
    if row is None or row.rescore_from is None:
        return None
    left = session.scalar(
        select(func.count(Lead.id)).where(
            Lead.workspace_id == workspace_id, Lead.rescore_at <= row.rescore_from
        )
    )
    total = max(row.rescore_total, left or 0)
    return Progress(total - (left or 0), total)
