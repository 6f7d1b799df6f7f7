"""PostgreSQL: an index in the clocks' claim order (the next poll, a mailbox never polled
first, then the id), so a claim reads two index entries, not every mailbox sorted; the
B-tree on `next_poll_at` puts nulls last there (SQLite puts them first and needs none)

Revision ID: 0034
Revises: 0033
"""

from __future__ import annotations

from alembic import op


revision = '0034'
down_revision = '0033'
branch_labels = None
depends_on = None

INDEX = "ix_mailbox_poll_order"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"CREATE INDEX {INDEX} ON mailbox (next_poll_at NULLS FIRST, id)")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(f"DROP INDEX IF EXISTS {INDEX}")
