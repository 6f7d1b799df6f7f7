"""scoring at scale: an activity index by message (the sync's scoring step finds the
leads of its batch's messages without reading every activity), what a lead's score
events were awarded from (lead.scored_with), and the rules awarded by (score_rule_set)

Revision ID: 0031
Revises: 0030
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('score_rule_set',
    sa.Column('digest', sa.String(length=16), nullable=False),
    sa.Column('rules', sa.JSON(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_score_rule_set_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_rule_set')),
    sa.UniqueConstraint('workspace_id', 'digest', name=op.f('uq_score_rule_set_workspace_id_digest'))
    )
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_message_id'), ['message_id'], unique=False)
    op.add_column('lead', sa.Column('scored_with', sa.String(length=60), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_column('scored_with')
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_message_id'))
    op.drop_table('score_rule_set')
