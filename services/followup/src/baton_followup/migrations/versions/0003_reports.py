"""followup: the report facts of the head of account management (issue 21).

Three new projections (``reports_from_intake``, ``reports_from_delivery``,
``reports_from_followup``), whose tables start empty and fill from the log from the
start like any new projection.

Revision ID: 0002_reports
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = "0002_reports"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # if_not_exists: a database made by create_all before migrations existed, with code that
    # already had these tables, is stamped at 0001 and has them.
    op.create_table(
        "report_activity",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        if_not_exists=True,
    )
    op.create_index("ix_report_activity_when", "report_activity", ["occurred_at"], unique=False, if_not_exists=True)
    op.create_table(
        "report_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=400), nullable=False),
        sa.Column("segment", sa.String(length=8), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_report_clients_manager", "report_clients", ["account_manager"], unique=False, if_not_exists=True
    )
    op.create_table(
        "report_deliveries",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rework_rounds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
        if_not_exists=True,
    )
    op.create_table(
        "report_follow_ups",
        sa.Column("follow_up_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("follow_up_id"),
        if_not_exists=True,
    )
    op.create_table(
        "report_handoffs",
        sa.Column("handoff_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("handed_off_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_by", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("handoff_id"),
        if_not_exists=True,
    )
    op.create_table(
        "report_manager_changes",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("previous_account_manager", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_report_manager_changes_client",
        "report_manager_changes",
        ["client_id", "changed_at"],
        unique=False,
        if_not_exists=True,
    )
    op.create_table(
        "report_programs",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("monthly_fee", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("program_id"),
        if_not_exists=True,
    )
    op.create_table(
        "report_relationships",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
        if_not_exists=True,
    )
    op.create_table(
        "report_requests",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("budget", sa.String(length=32), nullable=True),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("source_opportunity_id", sa.String(length=64), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id"),
        if_not_exists=True,
    )
    op.create_index(
        "ix_report_requests_opportunity", "report_requests", ["source_opportunity_id"], unique=False, if_not_exists=True
    )
    op.create_table(
        "report_work_orders",
        sa.Column("work_order_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=100), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("due_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_seconds", sa.Float(), nullable=False),
        sa.Column("rework_rounds", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("work_order_id"),
        if_not_exists=True,
    )
    op.create_index("ix_report_work_orders_due", "report_work_orders", ["due_by"], unique=False, if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_report_work_orders_due", table_name="report_work_orders")
    op.drop_table("report_work_orders")
    op.drop_index("ix_report_requests_opportunity", table_name="report_requests")
    op.drop_table("report_requests")
    op.drop_table("report_relationships")
    op.drop_table("report_programs")
    op.drop_index("ix_report_manager_changes_client", table_name="report_manager_changes")
    op.drop_table("report_manager_changes")
    op.drop_table("report_handoffs")
    op.drop_table("report_follow_ups")
    op.drop_table("report_deliveries")
    op.drop_index("ix_report_clients_manager", table_name="report_clients")
    op.drop_table("report_clients")
    op.drop_index("ix_report_activity_when", table_name="report_activity")
    op.drop_table("report_activity")
