"""followup: every client's revenue in bands that count their clients (``followup.revenue_ranks``),
so a new client's rank is counted without walking every client above it (issue 23). The
profiles' number column, which the rank walked, goes.

The projection starts with an empty checkpoint: on its first start the service folds intake's
stream into it, as it does for any new read model; until it holds every earlier client, a
new client's tier waits.

Revision ID: 0014_revenue_ranks
Revises: 0013_profiles_revenue_amount
"""

from alembic import op
import sqlalchemy as sa


revision = "0014_revenue_ranks"
down_revision = "0013_profiles_revenue_amount"
branch_labels = None
depends_on = None


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    if "client_revenues" not in found.get_table_names():  # else made by create_all, then stamped
        op.create_table(
            "client_revenues",
            sa.Column("client_id", sa.String(length=64), nullable=False),
            sa.Column("amount", sa.Numeric(), nullable=True),
            sa.Column("band", sa.Integer(), nullable=True),
            sa.PrimaryKeyConstraint("client_id"),
        )
        op.create_index("ix_client_revenues_band", "client_revenues", ["band", "amount"])
        op.create_table(
            "revenue_bands",
            sa.Column("band", sa.Integer(), nullable=False),
            sa.Column("clients", sa.Integer(), nullable=False),
            sa.PrimaryKeyConstraint("band"),
        )
    if "ix_client_profiles_revenue" in {ix["name"] for ix in found.get_indexes("client_profiles")}:
        op.drop_index("ix_client_profiles_revenue", table_name="client_profiles")
    if "revenue_amount" in {c["name"] for c in found.get_columns("client_profiles")}:
        with op.batch_alter_table("client_profiles") as table:
            table.drop_column("revenue_amount")


def downgrade() -> None:
    with op.batch_alter_table("client_profiles") as table:
        table.add_column(sa.Column("revenue_amount", sa.Numeric(), nullable=True))
    op.execute(
        "UPDATE client_profiles SET revenue_amount = CAST(annual_revenue AS NUMERIC) WHERE annual_revenue IS NOT NULL"
    )
    op.create_index("ix_client_profiles_revenue", "client_profiles", ["revenue_amount"])
    op.drop_table("revenue_bands")
    op.drop_index("ix_client_revenues_band", table_name="client_revenues")
    op.drop_table("client_revenues")
