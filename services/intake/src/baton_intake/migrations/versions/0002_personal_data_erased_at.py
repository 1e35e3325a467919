"""intake: clients.personal_data_erased_at (issue 7, erasure: ClientForgotten).

Rows projected before it read as not erased, which they were not: no ClientForgotten
existed before this revision.

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
    # A database made by create_all before migrations existed, but with code that already
    # had the column, is stamped at 0001 and has it: nothing to add then.
    if "personal_data_erased_at" in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("clients")}:
        return
    op.add_column("clients", sa.Column("personal_data_erased_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("clients") as batch:
        batch.drop_column("personal_data_erased_at")
