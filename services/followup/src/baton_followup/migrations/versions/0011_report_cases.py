"""followup: recoveries and complaints among the report facts (issue 21, portfolios), and
report activity indexed by client (the rotation report's acknowledgement lookups).

A deployed database gets the table empty: `baton projections rebuild
followup.reports_from_followup` fills it from the log (README, Upgrading).

Revision ID: 0007_report_cases
Revises: 0006_overdue_reviews
"""

from alembic import op
import sqlalchemy as sa


revision = "0007_report_cases"
down_revision = "0006_overdue_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    if "ix_report_activity_client" not in {i["name"] for i in inspector.get_indexes("report_activity")}:
        op.create_index("ix_report_activity_client", "report_activity", ["client_id", "kind"])
    if "report_cases" in inspector.get_table_names():
        return  # made by create_all with code that already had it, then stamped
    op.create_table(
        "report_cases",
        sa.Column("case_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("case_id"),
    )


def downgrade() -> None:
    op.drop_table("report_cases")
    op.drop_index("ix_report_activity_client", table_name="report_activity")
