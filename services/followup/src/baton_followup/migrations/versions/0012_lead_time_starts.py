"""followup: each handoff's request capture time and client segment beside it in the
report facts, so lead times read one row per step's end instead of joining requests and
clients (issue 21, figures); activity by kind and time (acknowledgements, wins).

A deployed database gets the two columns empty: `baton projections rebuild
followup.reports_from_intake` fills them from the log (README, Upgrading).

Revision ID: 0008_lead_time_starts
Revises: 0007_report_cases
"""

from alembic import op
import sqlalchemy as sa


revision = "0008_lead_time_starts"
down_revision = "0007_report_cases"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    columns = {c["name"] for c in inspector.get_columns("report_handoffs")}
    with op.batch_alter_table("report_handoffs") as table:
        if "captured_at" not in columns:
            table.add_column(sa.Column("captured_at", sa.DateTime(timezone=True), nullable=True))
        if "segment" not in columns:
            table.add_column(sa.Column("segment", sa.String(length=8), nullable=True))
    if "ix_report_activity_kind" not in {i["name"] for i in inspector.get_indexes("report_activity")}:
        op.create_index("ix_report_activity_kind", "report_activity", ["kind", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_report_activity_kind", table_name="report_activity")
    with op.batch_alter_table("report_handoffs") as table:
        table.drop_column("segment")
        table.drop_column("captured_at")
