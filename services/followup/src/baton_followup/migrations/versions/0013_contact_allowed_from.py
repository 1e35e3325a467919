"""followup: each relationship keeps from when its policy lets a contact (no offer) go
ahead and its last contact, so the agenda filters, orders, counts and pages in SQL
(issue 23).

Rows folded before this keep NULL and the agenda decides them in Python, as before,
until `baton projections rebuild followup.relationships` (README, Upgrading).

Revision ID: 0009_contact_allowed_from
Revises: 0008_lead_time_starts
"""

from alembic import op
import sqlalchemy as sa


revision = "0009_contact_allowed_from"
down_revision = "0008_lead_time_starts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    columns = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("relationships")}
    with op.batch_alter_table("relationships") as table:
        for name in ("contact_allowed_from", "last_contact_at"):
            if name not in columns:
                table.add_column(sa.Column(name, sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("relationships") as table:
        table.drop_column("last_contact_at")
        table.drop_column("contact_allowed_from")
