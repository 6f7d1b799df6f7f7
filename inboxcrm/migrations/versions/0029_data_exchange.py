"""data exchange: CSV imports (the file, its mapping, plan and progress; a journal of
what each import did, for undo), the event table every change writes in its own
transaction, webhook endpoints, deliveries (a queue) and their attempts; a notification
may be about no lead (a webhook disabled)

Revision ID: 0029
Revises: 0028
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.Column('type', sa.Enum('lead.created', 'lead.updated', 'lead.merged', 'lead.removed', 'stage.changed', 'reply.received', 'test', name='eventtype', native_enum=False, length=24), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.Column('occurred_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('fanout_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_event_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event'))
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_event_fanout_at'), ['fanout_at'], unique=False)

    op.create_table('webhook_endpoint',
    sa.Column('url', sa.String(length=500), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('events', sa.JSON(), nullable=False),
    sa.Column('secret', sa.String(length=80), nullable=False),
    sa.Column('enabled', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('failing_since', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('disabled_reason', sa.String(length=300), nullable=True),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_webhook_endpoint_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoint'))
    )
    op.create_table('lead_import',
    sa.Column('member_id', sa.Integer(), nullable=True),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.Column('delimiter', sa.String(length=1), nullable=False),
    sa.Column('header', sa.JSON(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=False),
    sa.Column('state', sa.Enum('mapping', 'planned', 'queued', 'running', 'done', 'failed', 'undoing', 'undone', name='importstate', native_enum=False, length=24), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('done', sa.Integer(), nullable=False),
    sa.Column('created', sa.Integer(), nullable=False),
    sa.Column('updated', sa.Integer(), nullable=False),
    sa.Column('merged', sa.Integer(), nullable=False),
    sa.Column('refused', sa.Integer(), nullable=False),
    sa.Column('refusals', sa.JSON(), nullable=False),
    sa.Column('companies', sa.JSON(), nullable=False),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('run_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['member_id'], ['member.id'], name=op.f('fk_lead_import_member_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_lead_import_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_import'))
    )
    with op.batch_alter_table('lead_import', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_import_run_at'), ['run_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_lead_import_workspace_id_created_at'), ['workspace_id', 'created_at'], unique=False)

    op.create_table('webhook_delivery',
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('event_type', sa.Enum('lead.created', 'lead.updated', 'lead.merged', 'lead.removed', 'stage.changed', 'reply.received', 'test', name='eventtype', native_enum=False, length=24), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=True),
    sa.Column('body', sa.JSON(), nullable=False),
    sa.Column('state', sa.Enum('pending', 'delivered', 'failed', name='deliverystate', native_enum=False, length=24), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('delivered_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'], name=op.f('fk_webhook_delivery_endpoint_id_webhook_endpoint'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_webhook_delivery_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_delivery'))
    )
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_delivery_endpoint_id_id'), ['endpoint_id', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_endpoint_id_lead_id_state_seq'), ['endpoint_id', 'lead_id', 'state', 'seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_delivery_next_at'), ['next_at'], unique=False)

    op.create_table('lead_import_row',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('lead_id', sa.Integer(), nullable=False),
    sa.Column('made', sa.Boolean(), nullable=False),
    sa.Column('before', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['lead_import.id'], name=op.f('fk_lead_import_row_import_id_lead_import'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lead_import_row'))
    )
    with op.batch_alter_table('lead_import_row', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_lead_import_row_import_id_id'), ['import_id', 'id'], unique=False)

    op.create_table('webhook_attempt',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('delivery_id', sa.Integer(), nullable=False),
    sa.Column('endpoint_id', sa.Integer(), nullable=False),
    sa.Column('at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.Integer(), nullable=True),
    sa.Column('latency_ms', sa.Integer(), nullable=False),
    sa.Column('error', sa.String(length=300), nullable=True),
    sa.Column('response', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['delivery_id'], ['webhook_delivery.id'], name=op.f('fk_webhook_attempt_delivery_id_webhook_delivery'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoint.id'], name=op.f('fk_webhook_attempt_endpoint_id_webhook_endpoint'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_attempt'))
    )
    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_webhook_attempt_delivery_id'), ['delivery_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_attempt_endpoint_id_at'), ['endpoint_id', 'at'], unique=False)

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.alter_column('lead_id',
               existing_type=sa.INTEGER(),
               nullable=True)



def downgrade() -> None:
    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.alter_column('lead_id',
               existing_type=sa.INTEGER(),
               nullable=False)

    with op.batch_alter_table('webhook_attempt', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_attempt_endpoint_id_at'))
        batch_op.drop_index(batch_op.f('ix_webhook_attempt_delivery_id'))

    op.drop_table('webhook_attempt')
    with op.batch_alter_table('lead_import_row', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_import_row_import_id_id'))

    op.drop_table('lead_import_row')
    with op.batch_alter_table('webhook_delivery', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_next_at'))
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_endpoint_id_lead_id_state_seq'))
        batch_op.drop_index(batch_op.f('ix_webhook_delivery_endpoint_id_id'))

    op.drop_table('webhook_delivery')
    with op.batch_alter_table('lead_import', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_import_workspace_id_created_at'))
        batch_op.drop_index(batch_op.f('ix_lead_import_run_at'))

    op.drop_table('lead_import')
    op.drop_table('webhook_endpoint')
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_event_fanout_at'))

    op.drop_table('event')
