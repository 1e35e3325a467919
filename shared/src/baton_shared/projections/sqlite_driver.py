"""One thread hop per SQLite statement instead of three or four.

aiosqlite runs every sqlite3 call in its connection's thread, and SQLAlchemy's adapter
makes a call of each step: create the cursor, execute, fetch the rows, close the
cursor. Each is a round trip (queue to the thread, a future back through the event
loop's self-pipe). Profiled under intake's live projections at 1,000 events/s, those
round trips, not SQLite, were where a batch's time went: ~12 of them per projection
transaction, the event loop idle in between.

``OneHopCursor`` does the whole statement in one call in the connection's thread
(cursor, execute, fetch, close) and keeps what SQLAlchemy reads afterwards
(description, rowcount, lastrowid, rows). ``install()`` makes it the cursor of
SQLAlchemy's aiosqlite adapter, only if that adapter has the shape it was written
against (SQLAlchemy 2.x); otherwise the stock cursor stays. Server-side cursors (none
in Baton) keep the stock path.
"""

from __future__ import annotations

import collections
from typing import Any

from baton_shared.service.logging import get_logger

log = get_logger("baton.sqlite")
OneHopCursor: type | None = None  # set by install()


class _Outcome:
    """What a finished statement leaves for SQLAlchemy to read."""

    __slots__ = ("arraysize", "description", "lastrowid", "rowcount")

    def __init__(self, description: Any = None, rowcount: int = -1, lastrowid: Any = None) -> None:
        self.description = description
        self.rowcount = rowcount
        self.lastrowid = lastrowid
        self.arraysize = 1

    async def __aenter__(self) -> _Outcome:
        return self

    async def close(self) -> None:
        return None


def _run(conn: Any, operation: Any, parameters: Any, many: bool) -> tuple[Any, int, Any, list | None]:
    """In the connection's thread: the whole statement, the cursor closed after."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else None
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


def install() -> bool:
    """Make the one-hop cursor SQLAlchemy's aiosqlite cursor. True if installed."""
    try:
        from sqlalchemy.dialects.sqlite import aiosqlite as dialect
    except ImportError:  # pragma: no cover - SQLAlchemy without the aiosqlite dialect
        return False
    stock = getattr(dialect, "AsyncAdapt_aiosqlite_cursor", None)
    connection = getattr(dialect, "AsyncAdapt_aiosqlite_connection", None)
    needed = ("_make_new_cursor", "_execute_async", "_executemany_async", "_aenter_cursor")
    if stock is None or connection is None or not all(hasattr(stock, n) for n in needed):
        log.warning("SQLAlchemy's aiosqlite adapter has another shape: the stock cursor is kept")
        return False
    global OneHopCursor
    if OneHopCursor is not None and connection._cursor_cls is OneHopCursor:
        return True

    class OneHop(stock):  # type: ignore[misc, valid-type]
        __slots__ = ()

        def _make_new_cursor(self, connection: Any) -> Any:
            return _Outcome()  # nothing to create in the thread: the statement makes its own

        async def _execute_async(self, operation: Any, parameters: Any) -> Any:
            return await self._one_hop(operation, parameters, many=False)

        async def _executemany_async(self, operation: Any, seq_of_parameters: Any) -> Any:
            return await self._one_hop(operation, seq_of_parameters, many=True)

        async def _one_hop(self, operation: Any, parameters: Any, many: bool) -> Any:
            aio = self._connection  # aiosqlite.Connection
            async with self._adapt_connection._execute_mutex:
                description, rowcount, lastrowid, rows = await aio._execute(
                    _run, aio._conn, operation, parameters, many
                )
            self._cursor = _Outcome(description, rowcount, lastrowid)
            if description and not self.server_side:
                self._rows = collections.deque(rows)
            return None

    OneHopCursor = OneHop
    connection._cursor_cls = OneHop
    return True
