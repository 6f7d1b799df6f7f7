"""message kind: person, bulk, auto_reply or bounce instead of `bulk`, and the facts
engagement reads (In-Reply-To, References, Auto-Submitted, a bounce's failed recipients
and original Message-ID)

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
import inboxcrm.db


revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

KIND = sa.Enum('person', 'bulk', 'auto_reply', 'bounce', name='messagekind', native_enum=False, length=24)
message = sa.table(
    'message',
    sa.column('kind', sa.String()),
    sa.column('bulk', sa.Boolean()),
)


def _no_cascades() -> None:
    # Dropping a column copies `message` on SQLite; with foreign keys enforced, dropping the
    # old copy would clear every activity's message_id (ON DELETE SET NULL).
    bind = op.get_bind()
    if bind.dialect.name == 'sqlite' and bind.exec_driver_sql('PRAGMA foreign_keys').scalar():
        raise RuntimeError('migrate SQLite with foreign keys off (PRAGMA foreign_keys=OFF)')


def upgrade() -> None:
    _no_cascades()
    # Columns are added in place (plain ALTER TABLE, on SQLite too), the old flag carried
    # over, then `bulk` dropped: on SQLite by copying the table.
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', KIND, server_default='person', nullable=False))
        batch_op.add_column(sa.Column('in_reply_to', sa.String(length=998), nullable=True))
        batch_op.add_column(sa.Column('references', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('auto_submitted', sa.String(length=998), nullable=True))
        batch_op.add_column(sa.Column('failed_recipients', sa.JSON(), server_default='[]', nullable=False))
        batch_op.add_column(sa.Column('original_message_id', sa.String(length=998), nullable=True))

    # Mail stored before was bulk or not; what kind of bulk it was is not known.
    op.execute(message.update().where(message.c.bulk == sa.true()).values(kind='bulk'))

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('bulk')


def downgrade() -> None:
    _no_cascades()
    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.add_column(sa.Column('bulk', sa.Boolean(), server_default=sa.false(), nullable=False))

    # Auto-replies and bounces made no leads before either: bulk.
    op.execute(message.update().where(message.c.kind != 'person').values(bulk=True))

    with op.batch_alter_table('message', schema=None) as batch_op:
        batch_op.drop_column('original_message_id')
        batch_op.drop_column('failed_recipients')
        batch_op.drop_column('auto_submitted')
        batch_op.drop_column('references')
        batch_op.drop_column('in_reply_to')
        batch_op.drop_column('kind')
