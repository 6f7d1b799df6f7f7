"""engagement signals: a lead address marked bouncing (when, sisimai's reason, soft
bounces in a row so far); the new activity kinds (auto_reply, inquiry) and their facts in
`activity.detail` need no schema change

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN on both databases: no table copy.
    op.add_column('lead_email', sa.Column('bouncing_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('lead_email', sa.Column('bounce_reason', sa.String(length=40), nullable=True))
    op.add_column('lead_email', sa.Column('soft_bounces', sa.Integer(), server_default='0', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('lead_email', schema=None) as batch_op:
        batch_op.drop_column('soft_bounces')
        batch_op.drop_column('bounce_reason')
        batch_op.drop_column('bouncing_at')
