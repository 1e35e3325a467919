"""followup: the client_health table (issue 20, a health score an account manager can act on).

A new projection: it starts from the beginning of the log and catches up by itself.

Revision ID: 0003_recovery_health
Revises: 0002_recovery
"""

from alembic import op
import sqlalchemy as sa


revision = "0003_recovery_health"
down_revision = "0002_recovery"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "client_health",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("history", sa.JSON(), nullable=False),
        sa.Column("at_risk_reason", sa.Text(), nullable=True),
        sa.Column("at_risk_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("client_id"),
        if_not_exists=True,
    )
    with op.batch_alter_table("client_health", schema=None) as batch_op:
        batch_op.create_index("ix_client_health_at_risk", ["at_risk_since"], unique=False, if_not_exists=True)


def downgrade() -> None:
    with op.batch_alter_table("client_health", schema=None) as batch_op:
        batch_op.drop_index("ix_client_health_at_risk")
    op.drop_table("client_health")
