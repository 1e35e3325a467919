"""followup: own_events, the service's own events about clients (its lane of a client's journey).

A new projection: it starts at the beginning of followup's stream and catches up, so the
table fills from the log on first start; nothing to copy.

Revision ID: 0002
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A database made by create_all with code that already had the table is stamped at 0001 and has it.
    if sa.inspect(op.get_bind()).has_table("own_events"):
        return
    op.create_table(
        "own_events",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("aggregate_type", sa.String(length=50), nullable=False),
        sa.Column("aggregate_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("causation_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("own_events", schema=None) as batch_op:
        batch_op.create_index("ix_own_events_client", ["client_id", "occurred_at", "seq"], unique=False)
        batch_op.create_index("ix_own_events_correlation", ["correlation_id", "occurred_at", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("own_events", schema=None) as batch_op:
        batch_op.drop_index("ix_own_events_correlation")
        batch_op.drop_index("ix_own_events_client")
    op.drop_table("own_events")
