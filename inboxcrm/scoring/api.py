"""The scoring settings under /api/v1: read by everyone, replaced by admins, refused with
a message per field to fix (`rules.2.points`, `thresholds.warm`, `ideal.sizes`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from flask import Blueprint

from inboxcrm.accounts.permissions import require_admin
from inboxcrm.api import json_object
from inboxcrm.db import utcnow
from inboxcrm.errors import Invalid
from inboxcrm.scoring.rules import describe
from inboxcrm.scoring.settings import (
    CHANGE,
    KEY,
    Scoring,
    Setting,
    new_key,
    parse_ideal,
    parse_rule,
    parse_thresholds,
    progress,
    replace_settings,
    scoring_of,
)
from inboxcrm.web import db_session, member

bp = Blueprint("scoring", __name__)  # the scoring settings, under /api/v1
T = TypeVar("T")


def settings_json(scoring: Scoring, workspace_id: int) -> dict[str, Any]:
    t, ideal = scoring.thresholds, scoring.ideal
    going = progress(db_session(), workspace_id)
    return {
        "rules": [
            {
                "key": s.rule.key,
                "name": s.rule.name,
                "trigger": s.rule.trigger.value,
                "part": s.rule.part.value,
                "points": s.rule.points,
                "half_life_days": s.rule.half_life_days,
                "cap": s.rule.cap,
                "period_days": s.rule.period_days,
                "within_hours": s.rule.within_hours,
                "enabled": s.enabled,
                "sentence": describe(s.rule),
            }
            for s in scoring.settings
        ],
        "thresholds": {
            "hot": t.hot,
            "warm": t.warm,
            "margin": t.margin,
            "cold_after_days": t.cold_after_days,
        },
        "ideal": {"industries": sorted(ideal.industries), "sizes": sorted(ideal.sizes)},
        "defaults": not scoring.own,
        # The rescore the last change queued, while it runs.
        "rescoring": (
            {"done": going.done, "total": going.total}
            if going is not None and not going.finished
            else None
        ),
    }


@bp.get("/scoring/settings")
def settings() -> dict[str, Any]:
    me = member()
    return settings_json(scoring_of(db_session(), me.workspace_id), me.workspace_id)


def _object(body: dict[str, Any], name: str, problems: dict[str, str]) -> dict[str, Any] | None:
    value = body.get(name)
    if value is not None and not isinstance(value, dict):
        problems[name] = f"{name} must be an object"
        return None
    return value


def _part(
    body: dict[str, Any],
    name: str,
    parse: Callable[[dict[str, Any]], T],
    problems: dict[str, str],
) -> T | None:
    """A part of the body parsed, or None (left out, or with its problems noted)."""
    part = _object(body, name, problems)
    if part is None:
        return None
    try:
        return parse(part)
    except Invalid as exc:
        problems.update({f"{name}.{field}": text for field, text in exc.fields.items()})
        return None


def _rules(raw: Any, current: Scoring, problems: dict[str, str]) -> tuple[Setting, ...]:
    if not isinstance(raw, list):
        problems["rules"] = "rules must be a list of rules"
        return current.settings
    settings: list[Setting] = []
    taken = {r.get("key") for r in raw if isinstance(r, dict)}
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            problems[f"rules.{i}"] = "each rule is an object"
            continue
        key = item.get("key")
        if key is None:
            key = new_key(str(item.get("name") or ""), {k for k in taken if isinstance(k, str)})
            taken.add(key)
        elif not isinstance(key, str) or not KEY.fullmatch(key):
            problems[f"rules.{i}.key"] = (
                "a key is a lower-case letter, then letters, digits or _, at most 40"
            )
            continue
        try:
            settings.append(parse_rule(item, key))
        except Invalid as exc:
            problems.update({f"rules.{i}.{field}": text for field, text in exc.fields.items()})
    return tuple(settings)


@bp.put("/scoring/settings")
def replace_all() -> dict[str, Any]:
    """Any of `rules` (the whole list, in order: a rule left out is removed; one without
    a key gets one from its name), `thresholds` and `ideal`; what is left out stays.
    Admins only. A change rescores every lead of the workspace in the background."""
    body = json_object()
    me, session = member(), db_session()
    require_admin(me, CHANGE)
    current = scoring_of(session, me.workspace_id)
    problems: dict[str, str] = {}
    changed = current
    if "rules" in body:
        changed = replace(changed, settings=_rules(body["rules"], current, problems))
    thresholds = _part(body, "thresholds", parse_thresholds, problems)
    if thresholds is not None:
        changed = replace(changed, thresholds=thresholds)
    ideal = _part(body, "ideal", parse_ideal, problems)
    if ideal is not None:
        changed = replace(changed, ideal=ideal)
    if problems:
        raise Invalid("the scoring settings have values to fix", problems)
    replace_settings(session, me, changed, utcnow())
    session.commit()
    return settings_json(scoring_of(session, me.workspace_id), me.workspace_id)
