"""activities carry the Send they came from or answer (a person's open or click, a reply
on its thread), so a segment's "opened / clicked / replied to campaign X" is an index
probe; the opens and clicks stored before keep their send in `detail`, copied here, and
the replies stored before get the Send their In-Reply-To names, else the latest of their
thread sent before them; sends are found by (mailbox, Gmail thread)

Revision ID: 0033
Revises: 0032
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0033'
down_revision = '0032'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('send', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_send_mailbox_id_gmail_thread_id'), ['mailbox_id', 'gmail_thread_id'], unique=False)
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('send_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_activity_send_id'), ['send_id'], unique=False)
    # Opens and clicks name their send's id (text) in detail: copy it, a batch at a time.
    conn = op.get_bind()
    activity = sa.table('activity', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                        sa.column('detail', sa.JSON), sa.column('send_id', sa.Integer))
    last = 0
    while True:
        rows = conn.execute(
            sa.select(activity.c.id, activity.c.detail)
            .where(activity.c.id > last, activity.c.kind.in_(('open', 'click')))
            .order_by(activity.c.id).limit(1000)
        ).all()
        if not rows:
            break
        last = rows[-1].id
        found = [{'aid': r.id, 'sid': int(str(r.detail.get('send')))} for r in rows
                 if isinstance(r.detail, dict) and str(r.detail.get('send', '')).isdigit()]
        if found:
            conn.execute(
                activity.update().where(activity.c.id == sa.bindparam('aid'))
                .values(send_id=sa.bindparam('sid')),
                found,
            )


    # Replies: the Send their In-Reply-To names, else the latest Send to the lead on the
    # reply's thread sent before it.
    op.execute(
        "UPDATE activity SET send_id = COALESCE(("
        " SELECT send.id FROM send JOIN message ON message.in_reply_to = send.message_id"
        " WHERE message.id = activity.message_id AND send.lead_id = activity.lead_id"
        " AND send.workspace_id = activity.workspace_id), ("
        " SELECT send.id FROM send"
        " JOIN thread ON thread.gmail_id = send.gmail_thread_id"
        " AND thread.mailbox_id = send.mailbox_id"
        " JOIN message ON message.thread_id = thread.id"
        " WHERE message.id = activity.message_id AND send.lead_id = activity.lead_id"
        " AND send.state = 'sent' AND send.sent_at <= activity.occurred_at"
        " ORDER BY send.sent_at DESC, send.id DESC LIMIT 1))"
        " WHERE activity.kind = 'reply' AND activity.message_id IS NOT NULL"
        " AND activity.send_id IS NULL"
    )

def downgrade() -> None:
    with op.batch_alter_table('activity', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_send_id'))
        batch_op.drop_column('send_id')
    with op.batch_alter_table('send', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_send_mailbox_id_gmail_thread_id'))
