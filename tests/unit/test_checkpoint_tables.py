"""The shared migration helper makes the checkpoint tables exactly as the first migrations did."""

from __future__ import annotations

import io

import pytest
import sqlalchemy as sa
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from baton_shared.service.migrations import create_checkpoint_tables


def hand_written_0001() -> None:
    """What each service's revision 0001 wrote out by hand before the helper (frozen here)."""
    from alembic import op

    op.create_table(
        "baton_checkpoints",
        sa.Column("projection", sa.String(length=200), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("last_seq", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("projection"),
        if_not_exists=True,
    )
    op.create_table(
        "baton_parked_events",
        sa.Column("projection", sa.String(length=200), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("projection", "stream", "seq"),
        if_not_exists=True,
    )


def ddl(dialect: str, migration) -> str:
    """The SQL ``migration`` emits on ``dialect`` (Alembic's offline rendering)."""
    out = io.StringIO()
    context = MigrationContext.configure(dialect_name=dialect, opts={"as_sql": True, "output_buffer": out})
    with Operations.context(context):
        migration()
    return out.getvalue()


@pytest.mark.parametrize("dialect", ["postgresql", "sqlite"])
def test_the_helper_emits_the_same_tables_as_the_hand_written_revisions(dialect):
    helper = ddl(dialect, create_checkpoint_tables)
    assert "CREATE TABLE IF NOT EXISTS baton_checkpoints" in helper
    assert helper == ddl(dialect, hand_written_0001)
