"""mailbox.throttle_kind: why a throttled mailbox waits (rate_limited, server, transport)

Revision ID: r_rules
Revises: 0014
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = 'r_rules'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('mailbox', sa.Column('throttle_kind', sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.drop_column('throttle_kind')
