"""followup: complaints, one row per complaint case (issue 20).

Revision ID: 0004_complaints
Revises: 0003_program_endings
"""

from alembic import op
import sqlalchemy as sa


revision = "0004_complaints"
down_revision = "0003_program_endings"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "complaints" in sa.inspect(op.get_bind()).get_table_names():
        return  # made by create_all with code that already had it, then stamped
    op.create_table(
        "complaints",
        sa.Column("complaint_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("work_order_id", sa.String(length=64), nullable=True),
        sa.Column("program_id", sa.String(length=64), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolve_by", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.Column("root_cause", sa.Text(), nullable=True),
        sa.Column("confirmed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopened_reason", sa.Text(), nullable=True),
        sa.Column("breaches", sa.JSON(), nullable=False),
        sa.Column("escalated_to_role", sa.String(length=32), nullable=True),
        sa.Column("escalated_to", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("complaint_id"),
    )
    op.create_index("ix_complaints_client", "complaints", ["client_id", "status"])
    op.create_index("ix_complaints_department", "complaints", ["department", "status"])


def downgrade() -> None:
    op.drop_index("ix_complaints_department", table_name="complaints")
    op.drop_index("ix_complaints_client", table_name="complaints")
    op.drop_table("complaints")
