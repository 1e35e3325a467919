"""delivery: the initial schema (checkpoints, parked events, every projection's tables).

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
    "client_managers",
    "request_deliveries",
    "work_orders",
)


def upgrade() -> None:
    create_checkpoint_tables()
    op.create_table(
        "client_managers",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
    )
    with op.batch_alter_table("client_managers", schema=None) as batch_op:
        batch_op.create_index("ix_client_managers_manager", ["account_manager"], unique=False)
    op.create_table(
        "request_deliveries",
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("handover", sa.String(length=30), nullable=False),
        sa.Column("handover_round", sa.Integer(), nullable=False),
        sa.Column("rounds", sa.JSON(), nullable=False),
        sa.Column("acceptance", sa.JSON(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("request_id"),
    )
    op.create_table(
        "work_orders",
        sa.Column("work_order_id", sa.String(length=64), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.Text(), nullable=False),
        sa.Column("due_by", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_before_block", sa.String(length=20), nullable=True),
        sa.Column("member", sa.String(length=200), nullable=True),
        sa.Column("percent", sa.Integer(), nullable=True),
        sa.Column("last_note", sa.Text(), nullable=True),
        sa.Column("blocked_reason", sa.Text(), nullable=True),
        sa.Column("blocked_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("blocked_seconds", sa.Float(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("rework_rounds", sa.Integer(), nullable=False),
        sa.Column("changes", sa.JSON(), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("work_order_id"),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index("ix_work_orders_department", ["department", "status", "due_by"], unique=False)
        batch_op.create_index("ix_work_orders_request", ["request_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index("ix_work_orders_request")
        batch_op.drop_index("ix_work_orders_department")
    op.drop_table("work_orders")
    op.drop_table("request_deliveries")
    with op.batch_alter_table("client_managers", schema=None) as batch_op:
        batch_op.drop_index("ix_client_managers_manager")
    op.drop_table("client_managers")
    drop_checkpoint_tables()
