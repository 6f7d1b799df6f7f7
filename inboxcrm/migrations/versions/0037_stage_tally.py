"""The board's running figures: `stage_tally`, rows added by triggers on `lead` for each
lead in or out of a (stage, owner, currency) group, and filled from the leads there are.
A later SQLite migration that rebuilds `lead` (Alembic's batch mode copies it to a new
table) drops these triggers with it and must create them again (`SQLITE` here);
tests/pipeline/test_tally.py fails at head without them

Revision ID: 0037
Revises: 0036
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0037'
down_revision = '0036'
branch_labels = None
depends_on = None

COLUMNS = "workspace_id, stage_id, owner_id, currency, leads, valued, value"
KEPT = ("workspace_id", "stage_id", "owner_id", "currency", "deal_value")  # what is counted
CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in KEPT)


def _row(lead: str, sign: str) -> str:
    """A tally row's values for the lead as it is (NEW) or was (OLD), in or out."""
    return (f"{lead}.workspace_id, {lead}.stage_id, {lead}.owner_id, {lead}.currency, {sign}1, "
            f"CASE WHEN {lead}.deal_value IS NULL THEN 0 ELSE {sign}1 END, "
            f"{sign}{lead}.deal_value")  # fmt: skip


SQLITE = (
    f"""CREATE TRIGGER lead_tally_insert AFTER INSERT ON lead BEGIN
    INSERT INTO stage_tally ({COLUMNS}) VALUES ({_row("NEW", "")}); END""",
    f"""CREATE TRIGGER lead_tally_delete AFTER DELETE ON lead BEGIN
    INSERT INTO stage_tally ({COLUMNS}) VALUES ({_row("OLD", "-")}); END""",
    f"""CREATE TRIGGER lead_tally_update AFTER UPDATE OF {", ".join(KEPT)} ON lead
    WHEN {CHANGED.replace("IS DISTINCT FROM", "IS NOT")} BEGIN
    INSERT INTO stage_tally ({COLUMNS}) VALUES ({_row("OLD", "-")}), ({_row("NEW", "")}); END""",
)
POSTGRESQL = (
    f"""CREATE FUNCTION lead_tally() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        INSERT INTO stage_tally ({COLUMNS}) VALUES ({_row("OLD", "-")});
      END IF;
      IF TG_OP <> 'DELETE' THEN
        INSERT INTO stage_tally ({COLUMNS}) VALUES ({_row("NEW", "")});
      END IF;
      RETURN NULL;
    END $$""",
    "CREATE TRIGGER lead_tally_in_out AFTER INSERT OR DELETE ON lead "
    "FOR EACH ROW EXECUTE FUNCTION lead_tally()",
    f"CREATE TRIGGER lead_tally_update AFTER UPDATE OF {', '.join(KEPT)} ON lead "
    f"FOR EACH ROW WHEN ({CHANGED}) EXECUTE FUNCTION lead_tally()",
)


def upgrade() -> None:
    op.create_table(
        'stage_tally',
        sa.Column('stage_id', sa.Integer(), nullable=False),
        sa.Column('owner_id', sa.Integer(), nullable=True),
        sa.Column('currency', sa.String(length=3), nullable=False),
        sa.Column('leads', sa.Integer(), nullable=False),
        sa.Column('valued', sa.Integer(), nullable=False),
        sa.Column('value', sa.Numeric(precision=18, scale=2), nullable=True),
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('workspace_id', sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['workspace_id'], ['workspace.id'], name=op.f('fk_stage_tally_workspace_id_workspace'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_stage_tally'))
    )
    with op.batch_alter_table('stage_tally', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_stage_tally_workspace_id_owner_id'), ['workspace_id', 'owner_id'], unique=False)
    postgresql = op.get_bind().dialect.name == "postgresql"
    for statement in POSTGRESQL if postgresql else SQLITE:
        op.execute(statement)
    # The leads there are, one row a group (the triggers count every lead written after).
    op.execute(
        f"INSERT INTO stage_tally ({COLUMNS}) SELECT workspace_id, stage_id, owner_id, currency, "
        "count(*), count(deal_value), sum(deal_value) FROM lead "
        "GROUP BY workspace_id, stage_id, owner_id, currency"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER lead_tally_update ON lead")
        op.execute("DROP TRIGGER lead_tally_in_out ON lead")
        op.execute("DROP FUNCTION lead_tally()")
    else:
        for name in ("lead_tally_insert", "lead_tally_delete", "lead_tally_update"):
            op.execute(f"DROP TRIGGER {name}")
    with op.batch_alter_table('stage_tally', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_stage_tally_workspace_id_owner_id'))
    op.drop_table('stage_tally')
