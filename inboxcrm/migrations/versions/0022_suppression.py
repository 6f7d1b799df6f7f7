"""the outbox's suppression list (address or @domain, reason, source, when, from which
message or send), the raw tracking hits with their verdicts, and each workspace's sending
settings (postal address, tracking on or off); addresses already marked bouncing become
hard-bounce suppressions

Revision ID: 0022
Revises: 0021
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('tracking_hit',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('send_ref', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.Enum('open', 'click', 'trap', name='hitkind', native_enum=False, length=24), nullable=False),
    sa.Column('url', sa.Text(), nullable=True),
    sa.Column('method', sa.String(length=8), nullable=False),
    sa.Column('user_agent', sa.String(length=500), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=False),
    sa.Column('at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('classify_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('verdict', sa.Enum('person', 'gmail_proxy', 'apple_mpp', 'gmail_prefetch', 'scanner', 'repeat', name='verdict', native_enum=False, length=24), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tracking_hit'))
    )
    with op.batch_alter_table('tracking_hit', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_tracking_hit_classify_at'), ['classify_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_tracking_hit_workspace_id_lead_id_verdict'), ['workspace_id', 'lead_id', 'verdict'], unique=False)
        batch_op.create_index(batch_op.f('ix_tracking_hit_workspace_id_send_ref'), ['workspace_id', 'send_ref'], unique=False)

    op.create_table('outbox_settings',
    sa.Column('postal_address', sa.Text(), nullable=False),
    sa.Column('tracking', sa.Boolean(), server_default=sa.false(), nullable=False),
    sa.Column('updated_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_outbox_settings_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_settings')),
    sa.UniqueConstraint('workspace_id', name=op.f('uq_outbox_settings_workspace_id'))
    )
    op.create_table('suppression',
    sa.Column('pattern', sa.String(length=254), nullable=False),
    sa.Column('reason', sa.Enum('unsubscribed', 'hard_bounce', 'complaint', 'manual', name='suppressionreason', native_enum=False, length=24), nullable=False),
    sa.Column('source', sa.String(length=20), nullable=False),
    sa.Column('suppressed_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('message_id', sa.Integer(), nullable=True),
    sa.Column('send_ref', sa.String(length=64), nullable=True),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['by_id'], ['member.id'], name=op.f('fk_suppression_by_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_suppression_lead_id_lead'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['message_id'], ['message.id'], name=op.f('fk_suppression_message_id_message'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_suppression_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_suppression')),
    sa.UniqueConstraint('workspace_id', 'pattern', name=op.f('uq_suppression_workspace_id_pattern'))
    )
    with op.batch_alter_table('suppression', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_suppression_lead_id'), ['lead_id'], unique=False)

    # Addresses that bounced before suppression existed are suppressed as they would be now.
    op.execute(
        "INSERT INTO suppression (workspace_id, pattern, reason, source, suppressed_at, lead_id) "
        "SELECT workspace_id, email, 'hard_bounce', 'bounce', bouncing_at, lead_id "
        "FROM lead_email WHERE bouncing_at IS NOT NULL"
    )


def downgrade() -> None:
    with op.batch_alter_table('suppression', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_suppression_lead_id'))

    op.drop_table('suppression')
    op.drop_table('outbox_settings')
    with op.batch_alter_table('tracking_hit', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_tracking_hit_workspace_id_send_ref'))
        batch_op.drop_index(batch_op.f('ix_tracking_hit_workspace_id_lead_id_verdict'))
        batch_op.drop_index(batch_op.f('ix_tracking_hit_classify_at'))

    op.drop_table('tracking_hit')
