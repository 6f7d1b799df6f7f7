"""Why a trigger did not enroll a lead: one row a sequence and lead

Revision ID: 0035
Revises: 0034
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import inboxcrm.db

revision = '0035'
down_revision = '0034'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'enrollment_refusal',
        sa.Column('sequence_id', sa.Integer(), nullable=False),
        sa.Column('lead_id', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=300), nullable=False),
        sa.Column('by', sa.String(length=200), nullable=False),
        sa.Column('since', inboxcrm.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['lead_id'], ['lead.id'], name=op.f('fk_enrollment_refusal_lead_id_lead'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['sequence_id'], ['sequence.id'], name=op.f('fk_enrollment_refusal_sequence_id_sequence'), ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_enrollment_refusal_workspace_id_workspace'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_enrollment_refusal')),
        sa.UniqueConstraint('sequence_id', 'lead_id', name=op.f('uq_enrollment_refusal_sequence_id_lead_id')),
    )
    with op.batch_alter_table('enrollment_refusal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_enrollment_refusal_lead_id'), ['lead_id'], unique=False)


def downgrade() -> None:
    op.drop_table('enrollment_refusal')
