"""lead indexes that end with the id, for PostgreSQL (SQLite's end with the rowid anyway):
board columns and a rep's board by stage and id, a rep's leads by last contact; and the
temperature filter

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# Each new index serves what the old one did, and more: (old, its columns), (new, its columns).
REPLACED = (
    (("ix_lead_workspace_id_stage_id", ["workspace_id", "stage_id"]),
     ("ix_lead_workspace_id_stage_id_id", ["workspace_id", "stage_id", "id"])),
    (("ix_lead_workspace_id_owner_id_stage_id", ["workspace_id", "owner_id", "stage_id"]),
     ("ix_lead_workspace_id_owner_id_stage_id_id", ["workspace_id", "owner_id", "stage_id", "id"])),
    (("ix_lead_workspace_id_owner_id", ["workspace_id", "owner_id"]),
     ("ix_lead_workspace_id_owner_id_last_contacted_at_id",
      ["workspace_id", "owner_id", "last_contacted_at", "id"])),
)
# PostgreSQL walks a B-tree backwards as DESC NULLS FIRST: the default view of a rep's
# leads (last contacted first, never contacted last) needs its own.
NULLS_LAST = "ix_lead_nulls_last_owner_id_last_contacted_at"


def upgrade() -> None:
    for (old, _), (new, columns) in REPLACED:
        op.create_index(new, "lead", columns)
        op.drop_index(old, table_name="lead")
    op.create_index("ix_lead_workspace_id_temperature", "lead", ["workspace_id", "temperature"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"CREATE INDEX {NULLS_LAST} ON lead "
            "(workspace_id, owner_id, last_contacted_at DESC NULLS LAST, id DESC)"
        )
    _analyze()


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {NULLS_LAST}")
    op.drop_index("ix_lead_workspace_id_temperature", table_name="lead")
    for (old, columns), (new, _) in REPLACED:
        op.create_index(old, "lead", columns)
        op.drop_index(new, table_name="lead")
    _analyze()


def _analyze() -> None:
    """Statistics for the indexes just made. On SQLite only where there were some before:
    its planner takes an index without them for a very selective one (and then sorts)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" or bind.execute(
        sa.text("SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'")
    ).first():
        op.execute("ANALYZE lead")
