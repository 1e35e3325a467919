"""followup: a client's health keeps each change of its score as a row of its own
(``client_health_changes``), and its row only the changes the at-risk rule still needs
(``risk_window``), so folding an event no longer rewrites a list that grows with the
client's history (issue 23).

The old ``history`` column goes. Rows folded before this start with an empty window and
no changes: `baton projections rebuild followup.client_health` (README, Upgrading) folds
them again from the log.

Revision ID: 0015_client_health_changes
Revises: 0014_revenue_ranks
"""

from alembic import op
import sqlalchemy as sa


revision = "0015_client_health_changes"
down_revision = "0014_revenue_ranks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    if "client_health_changes" not in found.get_table_names():  # else made by create_all, then stamped
        op.create_table(
            "client_health_changes",
            sa.Column("client_id", sa.String(length=64), nullable=False),
            sa.Column("version", sa.BigInteger(), nullable=False),
            sa.Column("at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("score", sa.Integer(), nullable=False),
            sa.Column("reasons", sa.JSON(), nullable=False),
            sa.PrimaryKeyConstraint("client_id", "version"),
        )
    columns = {c["name"] for c in found.get_columns("client_health")}
    if "risk_window" not in columns:
        with op.batch_alter_table("client_health") as table:
            table.add_column(sa.Column("risk_window", sa.JSON(), nullable=True))
        op.execute("UPDATE client_health SET risk_window = '[]'")
        with op.batch_alter_table("client_health") as table:
            table.alter_column("risk_window", existing_type=sa.JSON(), nullable=False)
    if "history" in columns:
        with op.batch_alter_table("client_health") as table:
            table.drop_column("history")


def downgrade() -> None:
    with op.batch_alter_table("client_health") as table:
        table.add_column(sa.Column("history", sa.JSON(), nullable=True))
    op.execute("UPDATE client_health SET history = '[]'")
    with op.batch_alter_table("client_health") as table:
        table.alter_column("history", existing_type=sa.JSON(), nullable=False)
        table.drop_column("risk_window")
    op.drop_table("client_health_changes")
