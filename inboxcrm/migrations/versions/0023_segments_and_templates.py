"""segments (saved lead filters), mail-merge templates and their versions, and the
activity indexes a segment's activity conditions use: (lead, kind, occurred_at), probed
per lead on SQLite, and (workspace, kind, occurred_at, lead), read alone on PostgreSQL

Revision ID: 0023
Revises: 0022
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('email_template',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['member.id'], name=op.f('fk_email_template_created_by_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_email_template_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_email_template')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_email_template_workspace_id_name'))
    )
    op.create_table('segment',
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('filter', sa.JSON(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['member.id'], name=op.f('fk_segment_created_by_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_segment_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_segment')),
    sa.UniqueConstraint('workspace_id', 'name', name=op.f('uq_segment_workspace_id_name'))
    )
    op.create_table('template_version',
    sa.Column('template_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('subject', sa.String(length=2000), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['member.id'], name=op.f('fk_template_version_created_by_id_member'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['template_id'], ['email_template.id'], name=op.f('fk_template_version_template_id_email_template'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_template_version_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_template_version')),
    sa.UniqueConstraint('template_id', 'number', name=op.f('uq_template_version_template_id_number'))
    )
    with op.batch_alter_table('template_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_template_version_workspace_id'), ['workspace_id'], unique=False)

    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_lead_id_kind_occurred_at'), ['lead_id', 'kind', 'occurred_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_workspace_id_kind_occurred_at_lead_id'), ['workspace_id', 'kind', 'occurred_at', 'lead_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_workspace_id_kind_occurred_at_lead_id'))
        batch_op.drop_index(batch_op.f('ix_activity_lead_id_kind_occurred_at'))

    with op.batch_alter_table('template_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_template_version_workspace_id'))

    op.drop_table('template_version')
    op.drop_table('segment')
    op.drop_table('email_template')
