"""removed members: a member an admin removed keeps their row (their mail, notes and
moves stay theirs) but can no longer sign in; `member.removed_at` says since when

Revision ID: 0025
Revises: 0024
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('member', sa.Column('removed_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('removed_at')
