"""stored scores: a lead's awards (score_event), its temperature history
(temperature_change), when its temperature last changed, and the rescore queue

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('temperature_change',
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('from_temperature', sa.Enum('hot', 'warm', 'cold', name='temperature', native_enum=False, length=24), nullable=True),
    sa.Column('to_temperature', sa.Enum('hot', 'warm', 'cold', name='temperature', native_enum=False, length=24), nullable=True),
    sa.Column('changed_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_temperature_change_lead_id_lead'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_temperature_change_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_temperature_change'))
    )
    op.create_index(op.f('ix_temperature_change_lead_id_changed_at'), 'temperature_change', ['lead_id', 'changed_at'], unique=False)
    op.create_index(op.f('ix_temperature_change_workspace_id_changed_at'), 'temperature_change', ['workspace_id', 'changed_at'], unique=False)

    op.create_table('score_event',
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=40), nullable=False),
    sa.Column('part', sa.Enum('engagement', 'fit', name='part', native_enum=False, length=24), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('half_life_days', sa.Integer(), nullable=True),
    sa.Column('awarded_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.String(length=300), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_score_event_activity_id_activity'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_score_event_lead_id_lead'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_score_event_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_event'))
    )
    op.create_index(op.f('ix_score_event_lead_id_awarded_at'), 'score_event', ['lead_id', 'awarded_at'], unique=False)

    # Plain ALTER TABLE ... ADD COLUMN on both databases: no table copy.
    op.add_column('lead', sa.Column('temperature_changed_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True))
    op.add_column('lead', sa.Column('rescore_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_lead_rescore_at'), 'lead', ['rescore_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_rescore_at'))
        batch_op.drop_column('rescore_at')
        batch_op.drop_column('temperature_changed_at')
    op.drop_index(op.f('ix_score_event_lead_id_awarded_at'), table_name='score_event')
    op.drop_table('score_event')
    op.drop_index(op.f('ix_temperature_change_workspace_id_changed_at'), table_name='temperature_change')
    op.drop_index(op.f('ix_temperature_change_lead_id_changed_at'), table_name='temperature_change')
    op.drop_table('temperature_change')
