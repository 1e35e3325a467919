"""followup: opportunities' estimated, agreed and realised values and currency (issue 20, money).

Rows projected before it read as unvalued, which they were: no OpportunityValued existed
before this revision, and OpportunityWon/OutcomeReviewed v1 carried no value.

Revision ID: 0002_opportunity_values
Revises: 0001
"""

from alembic import op
import sqlalchemy as sa


revision = "0002_opportunity_values"
down_revision = "0003_recovery_health"
branch_labels = None
depends_on = None

COLUMNS = (("estimated_value", 40), ("agreed_value", 40), ("realised_value", 40), ("currency", 3))


def upgrade() -> None:
    # A database made by create_all before migrations existed, with code that already had the
    # columns, is stamped at 0001 and has them: add only what is missing.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("opportunities")}
    for name, length in COLUMNS:
        if name not in present:
            op.add_column("opportunities", sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("opportunities") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
