"""followup: the agenda's columns in the indexes it reads, so that its counts and its order
read index entries and no row (issue 23); ``relationships.in_contact_group`` stands in for
``contact_groups``, which PostgreSQL cannot index (JSON).

Revision ID: 0010_agenda_indexes
Revises: 0009_contact_allowed_from
"""

from alembic import op
import sqlalchemy as sa


revision = "0010_agenda_indexes"
down_revision = "0009_contact_allowed_from"
branch_labels = None
depends_on = None

AGENDA_COLUMNS = ["tier", "managed_by", "in_contact_group", "contact_allowed_from", "last_contact_at"]
INDEXES = {
    "follow_ups": {
        "ix_follow_ups_due": (["status", "due_on"], ["status", "due_on", "kind", "client_id", "follow_up_id"]),
        "ix_follow_ups_client": (["client_id"], ["client_id", "status", "due_on", "kind", "follow_up_id"]),
    },
    "relationships": {
        "ix_relationships_manager": (["account_manager"], ["account_manager", "client_id", *AGENDA_COLUMNS]),
        "ix_relationships_agenda": (None, ["client_id", "account_manager", *AGENDA_COLUMNS]),
    },
}


def upgrade() -> None:
    schema = sa.inspect(op.get_bind())
    columns = {c["name"] for c in schema.get_columns("relationships")}
    if "in_contact_group" not in columns:
        with op.batch_alter_table("relationships") as table:
            table.add_column(sa.Column("in_contact_group", sa.Boolean(), nullable=True))
    # The same test the agenda made on contact_groups until now.
    op.execute(
        "UPDATE relationships SET in_contact_group = NOT "
        "(contact_groups IS NULL OR CAST(contact_groups AS TEXT) = '[]')"
    )
    for table, indexes in INDEXES.items():
        existing = {ix["name"]: ix["column_names"] for ix in schema.get_indexes(table)}
        for name, (_before, after) in indexes.items():
            if existing.get(name) == after:
                continue  # a database made from this code's schema, then stamped
            if name in existing:
                op.drop_index(name, table_name=table)
            op.create_index(name, table, after)


def downgrade() -> None:
    for table, indexes in INDEXES.items():
        for name, (before, _after) in indexes.items():
            op.drop_index(name, table_name=table)
            if before is not None:
                op.create_index(name, table, before)
    with op.batch_alter_table("relationships") as table:
        table.drop_column("in_contact_group")
