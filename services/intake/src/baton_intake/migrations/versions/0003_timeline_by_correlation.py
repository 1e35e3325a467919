"""intake: an index of the client timeline by correlation id (a journey's events, for ops).

Revision ID: 0003
Revises: 0002
"""

from alembic import op
import sqlalchemy as sa


revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    indexes = {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("client_timeline")}
    if "ix_client_timeline_correlation" in indexes:
        return
    with op.batch_alter_table("client_timeline", schema=None) as batch_op:
        batch_op.create_index("ix_client_timeline_correlation", ["correlation_id", "occurred_at", "seq"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("client_timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_client_timeline_correlation")
