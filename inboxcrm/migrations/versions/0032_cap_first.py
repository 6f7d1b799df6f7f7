"""which goes first within a mailbox's shared daily cap, campaigns or sequences
(outbox_settings.cap_first; sequences by default)

Revision ID: 0032
Revises: 0031
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('outbox_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('cap_first', sa.Enum('sequences', 'campaigns', name='capfirst', native_enum=False, length=24), server_default='sequences', nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('outbox_settings', schema=None) as batch_op:
        batch_op.drop_column('cap_first')
