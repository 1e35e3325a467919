"""followup: recoveries and complaints among the report facts (issue 21, portfolios), and
indexes for the reports: activity by client (rotation's acknowledgements), and each step's
end for lead times (handoffs by time and request, work orders by acceptance and first
completion, deliveries by the client's acceptance).

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


INDEXES = (
    ("report_activity", "ix_report_activity_client", ["client_id", "kind"]),
    ("report_handoffs", "ix_report_handoffs_when", ["handed_off_at"]),
    ("report_handoffs", "ix_report_handoffs_request", ["request_id"]),
    ("report_work_orders", "ix_report_work_orders_accepted", ["accepted_at"]),
    ("report_work_orders", "ix_report_work_orders_completed", ["first_completed_at"]),
    ("report_work_orders", "ix_report_work_orders_request", ["request_id"]),
    ("report_deliveries", "ix_report_deliveries_accepted", ["accepted_at"]),
)


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, name, columns in INDEXES:
        if name not in {i["name"] for i in inspector.get_indexes(table)}:
            op.create_index(name, table, columns)
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
    for table, name, _ in INDEXES:
        op.drop_index(name, table_name=table)
