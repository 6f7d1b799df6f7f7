"""mailbox.throttle_kind: why a throttled mailbox waits (rate_limited, server, transport)

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('mailbox', sa.Column('throttle_kind', sa.String(length=24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('mailbox', schema=None) as batch_op:
        batch_op.drop_column('throttle_kind')
