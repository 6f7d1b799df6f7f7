"""board owner index

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23 12:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_lead_workspace_id_owner_id_stage_id", "lead", ["workspace_id", "owner_id", "stage_id"]
    )


def downgrade() -> None:
    op.drop_index("ix_lead_workspace_id_owner_id_stage_id", table_name="lead")
