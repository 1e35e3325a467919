"""followup: the initial schema (checkpoints, parked events, every projection's tables).

Revision ID: 0001
Revises: -
"""

import sqlalchemy as sa
from alembic import op
from baton_shared.service.migrations import create_checkpoint_tables, drop_checkpoint_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The service's own tables at this revision (a database holding any of them and no
# history predates migrations and is stamped here).
TABLES = (
    "briefs",
    "client_profiles",
    "client_requests",
    "follow_ups",
    "opportunities",
    "programs",
    "relationships",
    "request_deliveries",
)


def upgrade() -> None:
    create_checkpoint_tables()
    op.create_table(
        "briefs",
        sa.Column("brief_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("previous_account_manager", sa.String(length=200), nullable=True),
        sa.Column("brief", sa.JSON(), nullable=False),
        sa.Column("prepared_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("brief_id"),
    )
    with op.batch_alter_table("briefs", schema=None) as batch_op:
        batch_op.create_index("ix_briefs_client", ["client_id", "prepared_at"], unique=False)

    op.create_table(
        "client_profiles",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=8), nullable=False),
        sa.Column("business_description", sa.Text(), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("annual_revenue", sa.String(length=40), nullable=True),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_request_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("client_profiles", schema=None) as batch_op:
        batch_op.create_index("ix_client_profiles_last_request", ["last_request_at"], unique=False)

    op.create_table(
        "client_requests",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("desired_by", sa.Date(), nullable=True),
        sa.Column("promises", sa.JSON(), nullable=False),
        sa.Column("source_opportunity_id", sa.String(length=64), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    with op.batch_alter_table("client_requests", schema=None) as batch_op:
        batch_op.create_index("ix_client_requests_client", ["client_id"], unique=False)

    op.create_table(
        "follow_ups",
        sa.Column("follow_up_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("opportunity_id", sa.String(length=64), nullable=True),
        sa.Column("program_id", sa.String(length=64), nullable=True),
        sa.Column("brief_id", sa.String(length=64), nullable=True),
        sa.Column("outcome", sa.String(length=32), nullable=True),
        sa.Column("closed_reason", sa.Text(), nullable=True),
        sa.Column("scheduled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("follow_up_id"),
    )
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.create_index("ix_follow_ups_client", ["client_id"], unique=False)
        batch_op.create_index("ix_follow_ups_due", ["status", "due_on"], unique=False)

    op.create_table(
        "opportunities",
        sa.Column("opportunity_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("rule_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("identified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("declined_reason", sa.Text(), nullable=True),
        sa.Column("cool_down_until", sa.Date(), nullable=True),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome_review_on", sa.Date(), nullable=True),
        sa.Column("delivered_value", sa.String(length=32), nullable=True),
        sa.Column("outcome_note", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id"),
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index("ix_opportunities_client", ["client_id", "status"], unique=False)

    op.create_table(
        "programs",
        sa.Column("program_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("minimum_term_months", sa.Integer(), nullable=False),
        sa.Column("total_term_months", sa.Integer(), nullable=False),
        sa.Column("notice_days", sa.Integer(), nullable=False),
        sa.Column("minimum_term_ends_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("notice_deadline", sa.Date(), nullable=False),
        sa.Column("trailing_12_month_revenue", sa.String(length=40), nullable=False),
        sa.Column("monthly_fee", sa.String(length=40), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("cancellation_requested_on", sa.Date(), nullable=True),
        sa.Column("cancellation_effective_on", sa.Date(), nullable=True),
        sa.Column("cancellation_reason", sa.Text(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("program_id"),
    )
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.create_index("ix_programs_client", ["client_id"], unique=False)

    op.create_table(
        "relationships",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("client_name", sa.String(length=200), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("review_every_days", sa.Integer(), nullable=True),
        sa.Column("annual_revenue", sa.String(length=40), nullable=True),
        sa.Column("contact_policy", sa.JSON(), nullable=False),
        sa.Column("stopped_on", sa.Date(), nullable=True),
        sa.Column("contact_times", sa.JSON(), nullable=False),
        sa.Column("cool_downs", sa.JSON(), nullable=False),
        sa.Column("recent_contacts", sa.JSON(), nullable=False),
        sa.Column("suppressions", sa.JSON(), nullable=False),
        sa.Column("satisfaction", sa.JSON(), nullable=False),
        sa.Column("declined_offers", sa.JSON(), nullable=False),
        sa.Column("outcome_reviews", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("relationships", schema=None) as batch_op:
        batch_op.create_index("ix_relationships_manager", ["account_manager"], unique=False)

    op.create_table(
        "request_deliveries",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("work_orders", sa.JSON(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    with op.batch_alter_table("request_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_request_deliveries_client", ["client_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("request_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_request_deliveries_client")

    op.drop_table("request_deliveries")
    with op.batch_alter_table("relationships", schema=None) as batch_op:
        batch_op.drop_index("ix_relationships_manager")

    op.drop_table("relationships")
    with op.batch_alter_table("programs", schema=None) as batch_op:
        batch_op.drop_index("ix_programs_client")

    op.drop_table("programs")
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunities_client")

    op.drop_table("opportunities")
    with op.batch_alter_table("follow_ups", schema=None) as batch_op:
        batch_op.drop_index("ix_follow_ups_due")
        batch_op.drop_index("ix_follow_ups_client")

    op.drop_table("follow_ups")
    with op.batch_alter_table("client_requests", schema=None) as batch_op:
        batch_op.drop_index("ix_client_requests_client")

    op.drop_table("client_requests")
    with op.batch_alter_table("client_profiles", schema=None) as batch_op:
        batch_op.drop_index("ix_client_profiles_last_request")

    op.drop_table("client_profiles")
    with op.batch_alter_table("briefs", schema=None) as batch_op:
        batch_op.drop_index("ix_briefs_client")

    op.drop_table("briefs")
    drop_checkpoint_tables()
