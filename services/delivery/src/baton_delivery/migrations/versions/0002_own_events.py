"""delivery: own_events, the service's own events about clients (its lane of a client's journey).

A new projection: it starts at the beginning of delivery's stream and catches up, so the
table fills from the log on first start; nothing to copy.

Revision ID: 0002
Revises: 0001
"""

from baton_shared.service.migrations import create_own_events_table, drop_own_events_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_own_events_table()


def downgrade() -> None:
    drop_own_events_table()
