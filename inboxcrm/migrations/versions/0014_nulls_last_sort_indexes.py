"""PostgreSQL: indexes that serve the leads table's descending sorts with leads without a
value last (a B-tree walked backwards gives NULLS FIRST there; SQLite needs none)

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

COLUMNS = ("last_contacted_at", "deal_value")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(
            f"CREATE INDEX ix_lead_nulls_last_{column} ON lead "
            f"(workspace_id, {column} DESC NULLS LAST, id DESC)"
        )
    op.execute("ANALYZE lead")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for column in COLUMNS:
        op.execute(f"DROP INDEX IF EXISTS ix_lead_nulls_last_{column}")
