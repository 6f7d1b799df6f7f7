"""A lead's score events added up per rule as of a moment (lead.score_sums), kept with
what they were awarded from (lead.scored_with), so that a rescore with nothing new reads
no events. Empty for every lead at first: its next rescore sums its events once.

Revision ID: 0039
Revises: 0038
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0039'
down_revision = '0038'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('lead', sa.Column('score_sums', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('lead') as batch_op:
        batch_op.drop_column('score_sums')
