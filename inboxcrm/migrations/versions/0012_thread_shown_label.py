"""thread.stage_label is thread.shown_label_id: the stage label id a thread shows

"Stage label" named three things; it now names the label of a stage (`stage.label`,
tracked per mailbox by `stage_label` rows). A plain column rename, in place on SQLite too.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

from alembic import op


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.alter_column('thread', 'stage_label', new_column_name='shown_label_id')


def downgrade() -> None:
    op.alter_column('thread', 'shown_label_id', new_column_name='stage_label')
