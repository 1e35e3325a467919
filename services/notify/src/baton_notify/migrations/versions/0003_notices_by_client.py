"""notify: notices indexed by client, so `baton trace` finds a client's notices without
reading every NoticeQueued in the log (issue 23).

Revision ID: 0003_notices_by_client
Revises: 0002_notices
"""

from alembic import op
import sqlalchemy as sa


revision = "0003_notices_by_client"
down_revision = "0002_notices"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "ix_notices_client" not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes("notices")}:
        op.create_index("ix_notices_client", "notices", ["client_id"])


def downgrade() -> None:
    op.drop_index("ix_notices_client", table_name="notices")
