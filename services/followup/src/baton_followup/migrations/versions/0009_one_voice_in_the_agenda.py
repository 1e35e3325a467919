"""followup: the agenda answers as the contact groups would (issue 21, one voice).

Relationships keep the account's contact groups and who else manages it; a new table keeps
each contact group's accounts and recent contact slots. Rows projected before it carry no
groups until `baton projections rebuild followup.relationships` and
`followup.contact_groups` (README, Upgrading).

Revision ID: 0005_one_voice_agenda
Revises: 0004_complaints
"""

from alembic import op
import sqlalchemy as sa


revision = "0005_one_voice_agenda"
down_revision = "0004_complaints"
branch_labels = None
depends_on = None


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    present = {c["name"] for c in inspector.get_columns("relationships")}
    if "contact_groups" not in present:
        op.add_column("relationships", sa.Column("contact_groups", sa.JSON(), nullable=True))
    if "managed_by" not in present:
        op.add_column("relationships", sa.Column("managed_by", sa.String(length=200), nullable=True))
    if "contact_groups" in inspector.get_table_names():
        return  # made by create_all with code that already had it, then stamped
    op.create_table(
        "contact_groups",
        sa.Column("group_id", sa.String(length=64), nullable=False),
        sa.Column("members", sa.JSON(), nullable=False),
        sa.Column("slots", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("group_id"),
    )


def downgrade() -> None:
    op.drop_table("contact_groups")
    with op.batch_alter_table("relationships") as batch:
        batch.drop_column("managed_by")
        batch.drop_column("contact_groups")
