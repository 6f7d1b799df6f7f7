"""the outbox: send (one outgoing email, its state and queue), mailbox_sending (a mailbox's
send slot, cap and pause), and workspace.timezone (send windows of leads without one)

Revision ID: 0024
Revises: 0023
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('mailbox_sending',
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('daily_cap', sa.Integer(), nullable=True),
    sa.Column('gap_min_seconds', sa.Integer(), nullable=True),
    sa.Column('gap_max_seconds', sa.Integer(), nullable=True),
    sa.Column('next_slot_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('paused_until', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('pause_reason', sa.String(length=300), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_mailbox_sending_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_mailbox_sending_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mailbox_sending')),
    sa.UniqueConstraint('mailbox_id', name=op.f('uq_mailbox_sending_mailbox_id'))
    )
    with op.batch_alter_table('mailbox_sending', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mailbox_sending_next_slot_at'), ['next_slot_at'], unique=False)

    op.create_table('send',
    sa.Column('source_kind', sa.Enum('campaign', 'step', 'oneoff', name='sourcekind', native_enum=False, length=24), nullable=False),
    sa.Column('source_id', sa.String(length=64), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('mailbox_id', sa.Integer(), nullable=False),
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('to_email', sa.String(length=254), nullable=False),
    sa.Column('subject', sa.String(length=998), nullable=False),
    sa.Column('body_text', sa.Text(), nullable=False),
    sa.Column('body_html', sa.Text(), nullable=True),
    sa.Column('gmail_thread_hint', sa.String(length=64), nullable=True),
    sa.Column('in_reply_to', sa.String(length=998), nullable=True),
    sa.Column('references', sa.Text(), nullable=True),
    sa.Column('window', sa.JSON(), nullable=True),
    sa.Column('stale_after_hours', sa.Integer(), server_default='72', nullable=False),
    sa.Column('planned_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('state', sa.Enum('planned', 'claimed', 'committed', 'sent', 'skipped', 'failed', name='sendstate', native_enum=False, length=24), server_default='planned', nullable=False),
    sa.Column('due_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('token', sa.String(length=64), nullable=True),
    sa.Column('mime', sa.LargeBinary(), nullable=True),
    sa.Column('committed_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('draft_id', sa.String(length=64), nullable=True),
    sa.Column('gmail_id', sa.String(length=64), nullable=True),
    sa.Column('gmail_thread_id', sa.String(length=64), nullable=True),
    sa.Column('sent_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reason', sa.Enum('suppressed', 'bouncing', 'unmarketable', 'cap', 'window_passed', 'template_error', 'lead_removed', name='skipreason', native_enum=False, length=24), nullable=True),
    sa.Column('error', sa.String(length=1000), nullable=True),
    sa.Column('attempts', sa.Integer(), server_default='0', nullable=False),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_send_lead_id_lead'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_send_mailbox_id_mailbox'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_send_member_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_send_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_send')),
    sa.UniqueConstraint('message_id', name=op.f('uq_send_message_id')),
    sa.UniqueConstraint('token', name=op.f('uq_send_token')),
    sa.UniqueConstraint('workspace_id', 'source_kind', 'source_id', 'lead_id', name=op.f('uq_send_workspace_id_source_kind_source_id_lead_id'))
    )
    with op.batch_alter_table('send', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_send_due_at'), ['due_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_send_lead_id'), ['lead_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_send_mailbox_id_committed_at'), ['mailbox_id', 'committed_at'], unique=False)

    op.add_column('workspace', sa.Column('timezone', sa.String(length=64), server_default='UTC', nullable=False))



def downgrade() -> None:
    with op.batch_alter_table('workspace', schema=None) as batch_op:
        batch_op.drop_column('timezone')

    with op.batch_alter_table('send', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_send_mailbox_id_committed_at'))
        batch_op.drop_index(batch_op.f('ix_send_lead_id'))
        batch_op.drop_index(batch_op.f('ix_send_due_at'))

    op.drop_table('send')
    with op.batch_alter_table('mailbox_sending', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mailbox_sending_next_slot_at'))

    op.drop_table('mailbox_sending')
