"""followup: relationships' indexes narrow again. The agenda reads its own read model (0011), so
nothing reads the agenda's columns from them, and every relationship written kept two wide
index entries up to date for nothing (issue 23).

Revision ID: 0012_relationships_narrow
Revises: 0011_agenda_read_model
"""

from alembic import op
import sqlalchemy as sa


revision = "0012_relationships_narrow"
down_revision = "0011_agenda_read_model"
branch_labels = None
depends_on = None

WIDE = ["tier", "managed_by", "in_contact_group", "contact_allowed_from", "last_contact_at"]


def upgrade() -> None:
    existing = {ix["name"]: ix["column_names"] for ix in sa.inspect(op.get_bind()).get_indexes("relationships")}
    if "ix_relationships_agenda" in existing:
        op.drop_index("ix_relationships_agenda", table_name="relationships")
    if existing.get("ix_relationships_manager") != ["account_manager"]:
        if "ix_relationships_manager" in existing:
            op.drop_index("ix_relationships_manager", table_name="relationships")
        op.create_index("ix_relationships_manager", "relationships", ["account_manager"])


def downgrade() -> None:
    op.drop_index("ix_relationships_manager", table_name="relationships")
    op.create_index("ix_relationships_manager", "relationships", ["account_manager", "client_id", *WIDE])
    op.create_index("ix_relationships_agenda", "relationships", ["client_id", "account_manager", *WIDE])
