"""followup: programs ended by the provider or switched (issue 20, money: ProgramEnded).

Rows projected before it read as not ended, which they were not: no ProgramEnded existed
before this revision.

Revision ID: 0003_program_endings
Revises: 0002_opportunity_values
"""

from alembic import op
import sqlalchemy as sa


revision = "0003_program_endings"
down_revision = "0002_opportunity_values"
branch_labels = None
depends_on = None

COLUMNS = (("ended_on", sa.Date()), ("end_reason", sa.Text()), ("switched_to", sa.String(length=64)))


def upgrade() -> None:
    # A database made by create_all with code that already had the columns is stamped at
    # 0001 and has them: add only what is missing.
    present = {c["name"] for c in sa.inspect(op.get_bind()).get_columns("programs")}
    for name, type_ in COLUMNS:
        if name not in present:
            op.add_column("programs", sa.Column(name, type_, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("programs") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)
