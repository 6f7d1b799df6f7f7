"""score settings: a workspace's own score rules (score_rule), temperature lines and ideal
customer (score_settings), and each lead's last engagement (filled from its awards)

A workspace without a score_settings row scores by the defaults, so nothing is seeded.

Revision ID: 0021
Revises: 0020
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

NULLS_LAST = "ix_lead_nulls_last_last_engaged_at"


def upgrade() -> None:
    op.create_table('score_settings',
    sa.Column('hot', sa.Integer(), nullable=False),
    sa.Column('warm', sa.Integer(), nullable=False),
    sa.Column('margin', sa.Integer(), nullable=False),
    sa.Column('cold_after_days', sa.Integer(), nullable=False),
    sa.Column('industries', sa.JSON(), nullable=False),
    sa.Column('sizes', sa.JSON(), nullable=False),
    sa.Column('rescore_from', inboxcrm.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rescore_total', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_score_settings_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_settings')),
    sa.UniqueConstraint('workspace_id', name=op.f('uq_score_settings_workspace_id'))
    )
    op.create_table('score_rule',
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('trigger', sa.Enum('reply', 'inbound', 'meeting', 'open', 'click', 'bounce', 'unsubscribe', 'senior_title', 'bant', 'ideal_company', name='trigger', native_enum=False, length=24), nullable=False),
    sa.Column('points', sa.Integer(), nullable=False),
    sa.Column('half_life_days', sa.Integer(), nullable=True),
    sa.Column('cap', sa.Integer(), nullable=True),
    sa.Column('period_days', sa.Integer(), nullable=True),
    sa.Column('within_hours', sa.Integer(), nullable=True),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('workspace_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_score_rule_workspace_id_workspace'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_score_rule')),
    sa.UniqueConstraint('workspace_id', 'key', name=op.f('uq_score_rule_workspace_id_key'))
    )

    # Plain ALTER TABLE ... ADD COLUMN on both databases: no table copy.
    op.add_column('lead', sa.Column('last_engaged_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True))
    # What rescore would set: the latest award of positive engagement.
    op.execute(
        "UPDATE lead SET last_engaged_at = (SELECT max(e.awarded_at) FROM score_event e "
        "WHERE e.lead_id = lead.id AND e.part = 'engagement' AND e.points > 0)"
    )
    op.create_index(op.f('ix_lead_workspace_id_last_engaged_at_id'), 'lead', ['workspace_id', 'last_engaged_at', 'id'], unique=False)
    if op.get_bind().dialect.name == "postgresql":
        # The leads table's "last engaged, newest first, never last" (see 0014).
        op.execute(
            f"CREATE INDEX {NULLS_LAST} ON lead "
            "(workspace_id, last_engaged_at DESC NULLS LAST, id DESC)"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {NULLS_LAST}")
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_workspace_id_last_engaged_at_id'))
        batch_op.drop_column('last_engaged_at')
    op.drop_table('score_rule')
    op.drop_table('score_settings')
