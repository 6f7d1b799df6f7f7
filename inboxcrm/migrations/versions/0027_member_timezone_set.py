"""a member's own timezone: `member.timezone_set_at` is when it was taken from their
browser or chosen on their page; until then the first page they open sets it

Revision ID: 0027
Revises: 0026
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('member', sa.Column('timezone_set_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('member', schema=None) as batch_op:
        batch_op.drop_column('timezone_set_at')
