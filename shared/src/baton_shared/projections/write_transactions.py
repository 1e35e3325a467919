"""A projection batch's write transaction: one greenlet for all of it, on a kept connection
when live, one writer at a time on SQLite."""

from __future__ import annotations

import asyncio
import contextlib
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Connection, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from baton_shared.projections.sqlite_driver import statements_direct

T = TypeVar("T")
_write_locks: weakref.WeakKeyDictionary[Any, dict[int, asyncio.Lock]] = weakref.WeakKeyDictionary()


_SYNCHRONOUS_COMMIT_OFF = text("SET LOCAL synchronous_commit = off")


async def in_write_transaction(
    engine: AsyncEngine, write: Callable[..., T], *args: Any, kept: KeptConnection | None = None
) -> T:
    """``write(conn, *args)`` in one transaction for a projection's batch (rows + checkpoint),
    as fast as the database allows. ``write`` runs synchronous statements: begin, statements
    and commit are one ``run_sync``, one greenlet, not one per statement. With ``kept``, on
    the connection it keeps (see ``KeptConnection``).

    SQLite: one writer at a time, and a writer that finds the database locked
    sleeps in SQLite's busy handler (1, 2, 5, 10 … 100 ms steps), or fails at once
    when its read snapshot went stale. A service's projections share one database,
    so their write transactions take turns on a lock in the process instead
    (see docs/architecture.md, "Performance"). Other processes (the ops
    tool) still meet the busy timeout.

    PostgreSQL: ``synchronous_commit = off`` for the transaction. A projection is
    derived data: a crash can lose its last few commits, rows and checkpoint
    together, and they are applied again from the log on restart (the durable
    consumer is reconciled with the checkpoint at start-up). Read-your-writes
    waits on the runner's position, which only moves after the commit."""
    if engine.dialect.name != "sqlite":
        return await _on_a_connection(engine, kept, write, args)
    locks = _write_locks.setdefault(engine.sync_engine, {})
    loop_id = id(asyncio.get_running_loop())
    lock = locks.get(loop_id)
    if lock is None:
        lock = locks[loop_id] = asyncio.Lock()
    async with lock:
        return await _on_a_connection(engine, kept, write, args)


class KeptConnection:
    """One connection kept between a live feed's write transactions. Taking one from the pool
    and giving it back per batch (a greenlet and a task each way, and PostgreSQL's pre-ping
    round trip) cost as much as a small batch's statements (docs/architecture.md). A connection
    whose transaction fails is closed, not kept: the next batch takes a new one, so a database
    restart costs one failed (and retried) batch."""

    def __init__(self) -> None:
        self._idle: AsyncConnection | None = None
        self.closed = False

    def take(self) -> AsyncConnection | None:
        conn, self._idle = self._idle, None
        return conn

    async def give_back(self, conn: AsyncConnection) -> None:
        if self._idle is None and not self.closed:
            self._idle = conn
        else:  # two batches at once, or closed meanwhile: one connection is kept
            await conn.close()

    async def close(self) -> None:
        self.closed = True
        conn = self.take()
        if conn is not None:
            await conn.close()


async def _on_a_connection(engine: AsyncEngine, kept: KeptConnection | None, write: Callable[..., T], args: tuple) -> T:
    if kept is None:
        async with engine.connect() as conn:
            return await conn.run_sync(_in_transaction, write, args)
    conn = kept.take() or await engine.connect()
    try:
        result = await conn.run_sync(_in_transaction, write, args)
    except BaseException:
        with contextlib.suppress(Exception):
            await conn.close()
        raise
    await kept.give_back(conn)
    return result


def _in_transaction(conn: Connection, write: Callable[..., T], args: tuple) -> T:
    with conn.begin():
        if conn.dialect.name == "postgresql":
            conn.execute(_SYNCHRONOUS_COMMIT_OFF)
            return write(conn, *args)
        with statements_direct(conn.connection.dbapi_connection):
            return write(conn, *args)
