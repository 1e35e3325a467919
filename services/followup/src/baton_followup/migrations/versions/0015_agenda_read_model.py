"""followup: the agenda's own read model, one entry per open follow-up and the counts per
manager and due day, so that a page and its counts do not grow with the log (issue 23).

The projection starts with an empty checkpoint: on its first start the service folds follow-up's
stream into it, as it does for any new read model, and the agenda answers once it has caught up.

Revision ID: 0011_agenda_read_model
Revises: 0010_agenda_indexes
"""

from alembic import op
import sqlalchemy as sa


revision = "0011_agenda_read_model"
down_revision = "0010_agenda_indexes"
branch_labels = None
depends_on = None

ORDERED = ["standing", "rank", "due_on", "follow_up_id", "allowed_from", "last_contact_at"]


def upgrade() -> None:
    if "agenda_entries" in sa.inspect(op.get_bind()).get_table_names():
        return  # made by create_all with code that already had it, then stamped
    op.create_table(
        "agenda_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("managed_by", sa.String(length=200), nullable=True),
        sa.Column("contact_groups", sa.JSON(), nullable=True),
        sa.Column("contact_policy", sa.JSON(), nullable=False),
        sa.Column("stopped_on", sa.Date(), nullable=True),
        sa.Column("contact_times", sa.JSON(), nullable=False),
        sa.Column("contact_allowed_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("client_id"),
    )
    op.create_table(
        "agenda_entries",
        sa.Column("follow_up_id", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("account_manager", sa.String(length=200), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("standing", sa.String(length=8), nullable=False),
        sa.Column("allowed_from", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_contact_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("follow_up_id"),
    )
    op.create_index("ix_agenda_entries_order", "agenda_entries", ORDERED)
    op.create_index("ix_agenda_entries_manager", "agenda_entries", ["account_manager", *ORDERED])
    op.create_index("ix_agenda_entries_client", "agenda_entries", ["client_id"])
    op.create_index("ix_agenda_entries_release", "agenda_entries", ["allowed_from"])
    op.create_index("ix_agenda_entries_last_contact", "agenda_entries", ["last_contact_at"])
    op.create_table(
        "agenda_counts",
        sa.Column("scope", sa.String(length=201), nullable=False),
        sa.Column("standing", sa.String(length=8), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("scope", "standing", "due_on"),
    )


def downgrade() -> None:
    op.drop_table("agenda_counts")
    op.drop_table("agenda_entries")
    op.drop_table("agenda_clients")
