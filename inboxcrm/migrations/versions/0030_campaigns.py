"""campaigns: campaign (template x segment x sender x schedule, its state and audience),
send.tracking (a campaign's tracking choice), mailbox_sending.allow_campaigns (the owner's
consent), outbox_settings.frequency_cap

Revision ID: 0030
Revises: 0029
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0030'
down_revision = '0029'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('campaign',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('template_id', sa.Integer(), nullable=True),
    sa.Column('version_id', sa.Integer(), nullable=True),
    sa.Column('segment_id', sa.Integer(), nullable=True),
    sa.Column('sender_mode', sa.Enum('mailbox', 'owner', name='sendermode', native_enum=False, length=24), nullable=False),
    sa.Column('mailbox_id', sa.Integer(), nullable=True),
    sa.Column('schedule', sa.Enum('now', 'at', 'working_hours', name='schedule', native_enum=False, length=24), nullable=False),
    sa.Column('start_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('window', sa.JSON(), nullable=True),
    sa.Column('tracking', sa.Boolean(), nullable=False),
    sa.Column('state', sa.Enum('draft', 'scheduled', 'sending', 'paused', 'done', 'cancelled', name='campaignstate', native_enum=False, length=24), nullable=False),
    sa.Column('audience', sa.JSON(), nullable=True),
    sa.Column('planned', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('launched_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('launched_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['member.id'], name=op.f('fk_campaign_created_by_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['launched_by_id'], ['member.id'], name=op.f('fk_campaign_launched_by_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['mailbox_id'], ['mailbox.id'], name=op.f('fk_campaign_mailbox_id_mailbox'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['segment_id'], ['segment.id'], name=op.f('fk_campaign_segment_id_segment'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['template_id'], ['email_template.id'], name=op.f('fk_campaign_template_id_email_template'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['version_id'], ['template_version.id'], name=op.f('fk_campaign_version_id_template_version'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_campaign_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_campaign')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_campaign_workspace_id_name'))
    )
    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_campaign_state'), ['state'], unique=False)

    with op.batch_alter_table('mailbox_sending', schema=None) as batch_op:
        batch_op.add_column(sa.Column('allow_campaigns', sa.Boolean(), server_default=sa.false(), nullable=False))

    with op.batch_alter_table('outbox_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('frequency_cap', sa.Integer(), server_default='3', nullable=False))

    with op.batch_alter_table('send', schema=None) as batch_op:
        batch_op.add_column(sa.Column('tracking', sa.Boolean(), nullable=True))



def downgrade() -> None:
    with op.batch_alter_table('send', schema=None) as batch_op:
        batch_op.drop_column('tracking')

    with op.batch_alter_table('outbox_settings', schema=None) as batch_op:
        batch_op.drop_column('frequency_cap')

    with op.batch_alter_table('mailbox_sending', schema=None) as batch_op:
        batch_op.drop_column('allow_campaigns')

    with op.batch_alter_table('campaign', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_campaign_state'))

    op.drop_table('campaign')
