"""the link-mail queue: leads whose addresses are yet to be matched to stored mail

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column('lead', sa.Column('link_mail_at', inboxcrm.db.UTCDateTime(timezone=True), nullable=True))
    op.create_index(op.f('ix_lead_link_mail_at'), 'lead', ['link_mail_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('lead', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_lead_link_mail_at'))
        batch_op.drop_column('link_mail_at')
