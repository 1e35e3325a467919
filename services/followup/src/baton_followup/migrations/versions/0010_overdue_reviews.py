"""followup: a review's follow-up keeps the due date it was recorded overdue on (issue 20, health).

Rows projected before it carry none, which is true: no ReviewOverdue existed before it.

Revision ID: 0006_overdue_reviews
Revises: 0005_one_voice_agenda
"""

from alembic import op
import sqlalchemy as sa


revision = "0006_overdue_reviews"
down_revision = "0005_one_voice_agenda"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if "overdue_on" not in {c["name"] for c in sa.inspect(op.get_bind()).get_columns("follow_ups")}:
        op.add_column("follow_ups", sa.Column("overdue_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("follow_ups") as batch:
        batch.drop_column("overdue_on")
