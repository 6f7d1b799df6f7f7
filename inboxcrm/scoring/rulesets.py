"""The rules a rescore awarded by, kept by digest: a lead's stored events name the set
they came from (`Lead.scored_with`), so a later rescore can tell which rules changed
since and recompute only those (a rule's awards depend on its own trigger's happenings
alone)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inboxcrm.scoring.models import ScoreRuleSet
from inboxcrm.scoring.rules import Rule, Trigger


def _as_json(rule: Rule) -> dict[str, Any]:
    return {f.name: getattr(rule, f.name) for f in dataclasses.fields(rule)}


@functools.lru_cache(maxsize=32)
def digest(rules: tuple[Rule, ...]) -> str:
    text = json.dumps([_as_json(r) for r in rules], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def remember(session: Session, workspace_id: int, rules: Sequence[Rule]) -> str:
    """The rules' digest, stored with them for the workspace unless it is already."""
    rules = tuple(rules)
    key = digest(rules)
    known = session.scalar(
        select(ScoreRuleSet.id).where(
            ScoreRuleSet.workspace_id == workspace_id, ScoreRuleSet.digest == key
        )
    )
    if known is None:
        session.add(ScoreRuleSet(workspace_id=workspace_id, digest=key,
                                 rules=[_as_json(r) for r in rules]))  # fmt: skip
        session.flush()
    return key


def recall(
    session: Session, workspace_id: int, digests: Iterable[str]
) -> dict[str, tuple[Rule, ...]]:
    """The rule sets stored under these digests (those not stored are left out)."""
    wanted = sorted(set(digests))
    if not wanted:
        return {}
    rows = session.execute(
        select(ScoreRuleSet.digest, ScoreRuleSet.rules).where(
            ScoreRuleSet.workspace_id == workspace_id, ScoreRuleSet.digest.in_(wanted)
        )
    ).tuples()
    found: dict[str, tuple[Rule, ...]] = {}
    for key, rules in rows:
        try:
            found[key] = tuple(Rule(**{**r, "trigger": Trigger(r["trigger"])}) for r in rules)
        except (TypeError, ValueError, KeyError):
            continue  # stored by a version with other fields: rescored in full
    return found


def changed(before: Sequence[Rule], after: Sequence[Rule]) -> frozenset[str]:
    """The keys of the rules added, removed or changed in any value."""
    old = {r.key: r for r in before}
    new = {r.key: r for r in after}
    return frozenset(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
