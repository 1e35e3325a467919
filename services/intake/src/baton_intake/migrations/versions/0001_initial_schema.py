"""intake: the initial schema (checkpoints, parked events, every projection's tables).

The schema the runners created with ``create_all`` before migrations existed: a
database made that way is stamped at this revision (see baton_shared.service.migrations).

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
    "client_timeline",
    "clients",
    "delivery_progress",
    "requests",
)


def upgrade() -> None:
    create_checkpoint_tables()
    op.create_table(
        "client_timeline",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("aggregate_type", sa.String(length=50), nullable=False),
        sa.Column("aggregate_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("causation_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("client_id", "stream", "seq"),
    )
    with op.batch_alter_table("client_timeline", schema=None) as batch_op:
        batch_op.create_index("ix_client_timeline_order", ["client_id", "occurred_at", "seq"], unique=False)
    op.create_table(
        "clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("segment", sa.String(length=8), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("business_description", sa.Text(), nullable=False),
        sa.Column("annual_revenue", sa.String(length=40), nullable=True),
        sa.Column("contacts", sa.JSON(), nullable=False),
        sa.Column("contact_policy", sa.JSON(), nullable=False),
        sa.Column("notes", sa.JSON(), nullable=False),
        sa.Column("account_manager_history", sa.JSON(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.create_index("ix_clients_account_manager", ["account_manager", "name"], unique=False)
    op.create_table(
        "delivery_progress",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("handover", sa.String(length=30), nullable=False),
        sa.Column("handover_round", sa.Integer(), nullable=False),
        sa.Column("work_orders", sa.JSON(), nullable=False),
        sa.Column("acceptance", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_table(
        "requests",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("requirements", sa.JSON(), nullable=False),
        sa.Column("budget", sa.String(length=40), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("desired_by", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("clarifications", sa.JSON(), nullable=False),
        sa.Column("handoffs", sa.JSON(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("cancellation", sa.JSON(), nullable=True),
        sa.Column("captured_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.create_index("ix_requests_client", ["client_id", "captured_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("requests", schema=None) as batch_op:
        batch_op.drop_index("ix_requests_client")
    op.drop_table("requests")
    op.drop_table("delivery_progress")
    with op.batch_alter_table("clients", schema=None) as batch_op:
        batch_op.drop_index("ix_clients_account_manager")
    op.drop_table("clients")
    with op.batch_alter_table("client_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_client_timeline_order")
    op.drop_table("client_timeline")
    drop_checkpoint_tables()
