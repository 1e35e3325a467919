"""followup: client profiles keep the annual revenue as a number too, indexed, so a new client's
rank is counted on the index instead of casting every client's text (issue 23). Filled from
the text on upgrade.

Revision ID: 0013_profiles_revenue_amount
Revises: 0012_relationships_narrow
"""

from alembic import op
import sqlalchemy as sa


revision = "0013_profiles_revenue_amount"
down_revision = "0012_relationships_narrow"
branch_labels = None
depends_on = None


def upgrade() -> None:
    found = sa.inspect(op.get_bind())
    if "revenue_amount" not in {c["name"] for c in found.get_columns("client_profiles")}:
        with op.batch_alter_table("client_profiles") as table:
            table.add_column(sa.Column("revenue_amount", sa.Numeric(), nullable=True))
    op.execute(
        "UPDATE client_profiles SET revenue_amount = CAST(annual_revenue AS NUMERIC) "
        "WHERE annual_revenue IS NOT NULL AND revenue_amount IS NULL"
    )
    if "ix_client_profiles_revenue" not in {ix["name"] for ix in found.get_indexes("client_profiles")}:
        op.create_index("ix_client_profiles_revenue", "client_profiles", ["revenue_amount"])


def downgrade() -> None:
    op.drop_index("ix_client_profiles_revenue", table_name="client_profiles")
    with op.batch_alter_table("client_profiles") as table:
        table.drop_column("revenue_amount")
