"""An award of its rule's full points stored without its points and half-life, and its
reason without the end they make (score_event.points NULL): it is worth what the rule
gives in the lead's rule set (lead.scored_with), so a change of a rule's points rewrites
no event its cap did not cut. Events already stored are put in that form by the rule set
of their lead, a statement per rule of each set.

Revision ID: 0040
Revises: 0039
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None

# The leads scored by one rule set, and their events of one rule.
_OF_RULE = (
    "workspace_id = :ws AND rule = :key AND lead_id IN "
    "(SELECT id FROM lead WHERE workspace_id = :ws AND scored_with LIKE :scored_with)"
)


def _rules() -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """Each rule of each stored rule set, with the parameters naming its events."""
    rows = op.get_bind().execute(sa.text("SELECT workspace_id, digest, rules FROM score_rule_set"))
    for workspace_id, digest, rules in rows.fetchall():
        for rule in json.loads(rules) if isinstance(rules, str) else rules:
            fade = (
                f", halves every {rule['half_life_days']} days"
                if rule.get("half_life_days")
                else ""
            )
            end = f" {rule['points']:+d}{fade}"
            yield rule, {"ws": workspace_id, "key": rule["key"], "scored_with": f"{digest}:%",
                         "points": rule["points"], "half_life": rule.get("half_life_days"),
                         "end": end, "n": len(end)}  # fmt: skip


def upgrade() -> None:
    with op.batch_alter_table("score_event") as batch_op:
        batch_op.alter_column("points", existing_type=sa.Integer(), nullable=True)
    bind = op.get_bind()
    for rule, params in _rules():
        fades = (
            "half_life_days = :half_life"
            if rule.get("half_life_days")
            else "half_life_days IS NULL"
        )
        bind.execute(sa.text(
            "UPDATE score_event SET points = NULL, half_life_days = NULL, "
            "reason = substr(reason, 1, length(reason) - :n) "
            f"WHERE {_OF_RULE} AND points = :points AND {fades} AND length(reason) >= :n "
            "AND substr(reason, length(reason) - :n + 1) = :end"
        ), params)  # fmt: skip


def downgrade() -> None:
    bind = op.get_bind()
    for _, params in _rules():
        bind.execute(sa.text(
            "UPDATE score_event SET points = :points, half_life_days = :half_life, "
            f"reason = reason || :end WHERE {_OF_RULE} AND points IS NULL"
        ), params)  # fmt: skip
    # Left without a rule set to read them by: rescored in full, from their activities.
    bind.execute(sa.text("UPDATE lead SET scored_with = NULL, score_sums = NULL WHERE id IN "
                         "(SELECT lead_id FROM score_event WHERE points IS NULL)"))  # fmt: skip
    bind.execute(sa.text("DELETE FROM score_event WHERE points IS NULL"))
    with op.batch_alter_table("score_event") as batch_op:
        batch_op.alter_column("points", existing_type=sa.Integer(), nullable=False)
