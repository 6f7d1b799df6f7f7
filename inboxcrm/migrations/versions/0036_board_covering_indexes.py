"""Board indexes that hold what a column's figures add up (currency, deal value), so the
figures are read from the index alone, not from every lead's row, with or without an
owner or temperature filter; the tag index with its leads, so a tag filter reads the
index alone

Revision ID: 0036
Revises: 0035
"""

from __future__ import annotations

from alembic import op

revision = '0036'
down_revision = '0035'
branch_labels = None
depends_on = None

# The temperature filter's: a temperature changes as often as before, the columns after it
# seldom; named, as its columns would make too long a name for PostgreSQL.
TEMPERATURE = "ix_lead_temperature_board"
# (table, (old, its columns), (new, its columns)): each new index serves what the old did.
REPLACED = (
    ("lead",
     ("ix_lead_workspace_id_stage_id_id", ["workspace_id", "stage_id", "id"]),
     ("ix_lead_workspace_id_stage_id_id_currency_deal_value",
      ["workspace_id", "stage_id", "id", "currency", "deal_value"])),
    ("lead",
     ("ix_lead_workspace_id_owner_id_stage_id_id", ["workspace_id", "owner_id", "stage_id", "id"]),
     ("ix_lead_workspace_id_owner_id_stage_id_id_currency_deal_value",
      ["workspace_id", "owner_id", "stage_id", "id", "currency", "deal_value"])),
    ("lead",
     ("ix_lead_workspace_id_temperature", ["workspace_id", "temperature"]),
     (TEMPERATURE, ["workspace_id", "temperature", "owner_id", "stage_id", "id", "currency",
                    "deal_value"])),
    ("lead_tag",
     ("ix_lead_tag_tag_id", ["tag_id"]),
     ("ix_lead_tag_tag_id_lead_id", ["tag_id", "lead_id"])),
)  # fmt: skip


def upgrade() -> None:
    for table, _, (new, columns) in REPLACED:
        op.create_index(new, table, columns)
    for table, (old, _), _ in REPLACED:
        op.drop_index(old, table_name=table)
    _analyze()


def downgrade() -> None:
    for table, (old, columns), _ in REPLACED:
        op.create_index(old, table, columns)
    for table, _, (new, _) in REPLACED:
        op.drop_index(new, table_name=table)
    _analyze()


def _analyze() -> None:
    """Statistics for the new indexes (see 0018: on SQLite only where some were kept)."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" or bind.exec_driver_sql(
        "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'"
    ).first():
        op.execute("ANALYZE lead")
        op.execute("ANALYZE lead_tag")
