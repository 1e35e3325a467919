"""Checkpoints and parked events, stored in each projection's own database.

A projection's checkpoint is written in the same transaction as its rows, so the
rows and the position they reflect can never disagree. What a batch's transaction
writes (checkpoints, parked events) takes the synchronous connection the batch is
folded with (``AsyncConnection.run_sync``); the rest is called from the loop.
"""

from __future__ import annotations

import functools
from datetime import datetime, timezone

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    bindparam,
    case,
    delete,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_shared.projections import sqlite_statements

metadata = MetaData()


def checkpoint_columns() -> list[Column]:
    """The columns of ``baton_checkpoints``: one row per projection or reaction, its position."""
    return [
        Column("projection", String(200), primary_key=True),
        Column("stream", String(64), nullable=False),
        Column("last_seq", BigInteger, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False),
    ]


def parked_event_columns() -> list[Column]:
    """The columns of ``baton_parked_events``: events a runner gave up on, kept for ops."""
    return [
        Column("projection", String(200), primary_key=True),
        Column("stream", String(64), primary_key=True),
        Column("seq", BigInteger, primary_key=True),
        Column("subject", String(400), nullable=False),
        Column("error", Text, nullable=False),
        Column("tries", Integer, nullable=False, default=1),
        Column("data", LargeBinary, nullable=False),
        Column("parked_at", DateTime(timezone=True), nullable=False),
    ]


# Fresh columns per table: the same definitions make the tables here and in every
# service's first migration (baton_shared.service.migrations.create_checkpoint_tables).
checkpoints = Table("baton_checkpoints", metadata, *checkpoint_columns())
parked_events = Table("baton_parked_events", metadata, *parked_event_columns())


class CheckpointMoved(Exception):
    """Another runner advanced this projection meanwhile; the batch was rolled back."""


# Built once: each projection's checkpoint is read every few seconds, and by every waiting read.
_CHECKPOINT_OF = select(checkpoints.c.last_seq).where(checkpoints.c.projection == bindparam("projection"))


async def read_checkpoint(conn: AsyncConnection, projection: str) -> int:
    value = await conn.scalar(_CHECKPOINT_OF, {"projection": projection})
    return int(value or 0)


async def ensure_checkpoint(conn: AsyncConnection, projection: str, stream: str) -> None:
    """Create the projection's checkpoint at 0 unless it exists."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    await conn.execute(
        insert(checkpoints)
        .values(projection=projection, stream=stream, last_seq=0, updated_at=datetime.now(timezone.utc))
        .on_conflict_do_nothing(index_elements=["projection"])
    )


# Built once: building the statement per batch cost about as much as running it.
_ADVANCE = (
    update(checkpoints)
    .where(checkpoints.c.projection == bindparam("key"), checkpoints.c.last_seq == bindparam("old"))
    .values(last_seq=bindparam("new"), stream=bindparam("stream"), updated_at=bindparam("at"))
)


def advance_checkpoint(conn: Connection, projection: str, stream: str, old: int, new: int) -> None:
    """Move the checkpoint from ``old`` to ``new``, or raise if it is no longer ``old``."""
    values = {"key": projection, "old": old, "new": new, "stream": stream, "at": datetime.now(timezone.utc)}
    if sqlite_statements.execute(conn, _ADVANCE, values) != 1:
        raise CheckpointMoved(projection)


@functools.cache  # built once per number of projections
def _advance_many(n: int):  # noqa: ANN202 - a SQLAlchemy Update
    c = checkpoints.c
    return (
        update(checkpoints)
        .where(or_(*[and_(c.projection == bindparam(f"key{i}"), c.last_seq == bindparam(f"old{i}")) for i in range(n)]))
        .values(
            # typed: PostgreSQL cannot tell a CASE's type from untyped parameters
            last_seq=case(
                *[(c.projection == bindparam(f"key{i}"), bindparam(f"new{i}", type_=BigInteger)) for i in range(n)]
            ),
            stream=bindparam("stream"),
            updated_at=bindparam("at"),
        )
    )


def advance_checkpoints(conn: Connection, stream: str, moves: list[tuple[str, int, int]]) -> None:
    """Move several projections' checkpoints (``(projection, old, new)`` each) in one statement,
    or raise if any is no longer at its ``old``: the projections a feed's transaction wrote
    (one statement instead of one per projection; each was a round through SQLAlchemy)."""
    if len(moves) == 1:
        advance_checkpoint(conn, moves[0][0], stream, moves[0][1], moves[0][2])
        return
    statement = _advance_many(len(moves))
    params: dict[str, object] = {"stream": stream, "at": datetime.now(timezone.utc)}
    for i, (key, old, new) in enumerate(moves):
        params |= {f"key{i}": key, f"old{i}": old, f"new{i}": new}
    if sqlite_statements.execute(conn, statement, params) != len(moves):
        raise CheckpointMoved(", ".join(key for key, _, _ in moves))


def park(conn: Connection, owner: str, stream: str, parked: list[tuple[object, str]], tries: int) -> None:
    """Record events ``owner`` gave up on (raw event, error), keeping the latest error per event."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    now = datetime.now(timezone.utc)
    stmt = insert(parked_events)
    stmt = stmt.on_conflict_do_update(
        index_elements=["projection", "stream", "seq"],
        set_={"error": stmt.excluded.error, "tries": stmt.excluded.tries, "parked_at": stmt.excluded.parked_at},
    )
    conn.execute(
        stmt,
        [
            {
                "projection": owner,
                "stream": stream,
                "seq": raw.seq,
                "subject": raw.subject,
                "error": error[:4000],
                "tries": tries,
                "data": raw.data,
                "parked_at": now,
            }
            for raw, error in parked
        ],
    )


async def unpark(conn: AsyncConnection, owner: str, stream: str, seq: int) -> bool:
    """Forget a parked event (it was handled after all, or ops dropped it)."""
    result = await conn.execute(
        delete(parked_events).where(
            parked_events.c.projection == owner, parked_events.c.stream == stream, parked_events.c.seq == seq
        )
    )
    return result.rowcount == 1


async def retry_failed(conn: AsyncConnection, owner: str, stream: str, seq: int, error: str) -> None:
    """A retry of a parked event failed again: keep it parked, with the new error and one more try."""
    await conn.execute(
        update(parked_events)
        .where(parked_events.c.projection == owner, parked_events.c.stream == stream, parked_events.c.seq == seq)
        .values(error=error[:4000], tries=parked_events.c.tries + 1, parked_at=datetime.now(timezone.utc))
    )
