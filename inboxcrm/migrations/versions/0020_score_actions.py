"""score actions and notifications: a workspace's action settings (the move rule, the
notices, the inbound wait), members' notifications, and the queue of inbound leads
waiting for an answer

Revision ID: 0020
Revises: 0019
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('action_settings',
    sa.Column('move_on', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('move_score', sa.Integer(), nullable=False),
    sa.Column('move_from_id', sa.Integer(), nullable=True),
    sa.Column('move_to_id', sa.Integer(), nullable=True),
    sa.Column('notify_hot', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('notify_waiting', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('wait_minutes', sa.Integer(), nullable=False),
    sa.Column('updated_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['move_from_id'], ['stage.id'], name=op.f('fk_action_settings_move_from_id_stage'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['move_to_id'], ['stage.id'], name=op.f('fk_action_settings_move_to_id_stage'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by_id'], ['member.id'], name=op.f('fk_action_settings_updated_by_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_action_settings_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_action_settings'))
    )
    op.create_index(op.f('ix_action_settings_workspace_id'), 'action_settings', ['workspace_id'], unique=True)

    op.create_table('notification',
    sa.Column('member_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('hot', 'waiting', 'unsubscribe', name='noticekind', native_enum=False, length=24), nullable=False),
    sa.Column('text', sa.String(length=300), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('read_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_notification_lead_id_lead'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_notification_member_id_member'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_notification_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification')),
    sa.UniqueConstraint('member_id', 'key', name=op.f('uq_notification_member_id_key'))
    )
    op.create_index(op.f('ix_notification_member_id_created_at_id'), 'notification', ['member_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_notification_member_id_read_at'), 'notification', ['member_id', 'read_at'], unique=False)

    op.create_table('inbound_wait',
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('since', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('check_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['activity_id'], ['activity.id'], name=op.f('fk_inbound_wait_activity_id_activity'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_inbound_wait_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_inbound_wait')),
    sa.UniqueConstraint('activity_id', name=op.f('uq_inbound_wait_activity_id'))
    )
    op.create_index(op.f('ix_inbound_wait_check_at'), 'inbound_wait', ['check_at'], unique=False)


def downgrade() -> None:
    op.drop_table('inbound_wait')
    op.drop_table('notification')
    op.drop_table('action_settings')
