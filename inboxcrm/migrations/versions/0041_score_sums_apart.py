"""A lead's score sums in a table of their own (score_sums), out of the lead row: every
rescore rewrites the lead row, while the sums change only with its events, and kept on
the row they made each of those writes twice as large.

Revision ID: 0041
Revises: 0040
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0041'
down_revision = '0040'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('score_sums',
    sa.Column('lead_id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('sums', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_score_sums_lead_id_lead'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_score_sums_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('lead_id', name=op.f('pk_score_sums'))
    )
    op.execute(
        "INSERT INTO score_sums (lead_id, workspace_id, sums) "
        "SELECT id, workspace_id, score_sums FROM lead WHERE score_sums IS NOT NULL"
    )
    # ALTER TABLE on both databases (SQLite 3.35+): a batch copy of the table would lose
    # its triggers (the search and the stage tally).
    op.execute("ALTER TABLE lead DROP COLUMN score_sums")


def downgrade() -> None:
    op.add_column('lead', sa.Column('score_sums', sa.Text(), nullable=True))
    op.execute(
        "UPDATE lead SET score_sums = "
        "(SELECT s.sums FROM score_sums s WHERE s.lead_id = lead.id)"
    )
    op.drop_table('score_sums')
