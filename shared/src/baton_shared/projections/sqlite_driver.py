"""SQLite statements on the event loop's thread, or one thread hop each, never four.

aiosqlite runs every sqlite3 call in its connection's thread, and SQLAlchemy's adapter
makes a call of each step: create the cursor, execute, fetch the rows, close the
cursor. Each is a round trip (queue to the thread, a future back through the event
loop's self-pipe), and those round trips, not SQLite, were where a projection
transaction's time went.

``OneHopCursor`` does the whole statement in one call in the connection's thread
(cursor, execute, fetch, close) and keeps what SQLAlchemy reads afterwards
(description, rowcount, lastrowid, rows). ``install()`` makes it the cursor of
SQLAlchemy's aiosqlite adapter, only if that adapter has the shape it was written
against (SQLAlchemy 2.x); otherwise the stock cursor stays. Server-side cursors (none
in Baton) keep the stock path.

Where a statement runs is a setting (``BATON_SQLITE_STATEMENTS``), because the answer
depends on the machine: a hop costs CPU and, when the loop is busy, waits for the GIL;
but SQLite's own work then runs beside the loop, on another core (figures:
docs/architecture.md, "Performance").

- ``loop`` (the default): statements on the event loop's thread; best when every
  service and NATS share the box (the embedded run);
- ``thread``: one hop each; for a box where a SQLite service has cores to itself;
- ``auto``: ``thread`` while the machine has more than half a core idle (``/proc/stat``,
  sampled every half second), ``loop`` otherwise (it flaps near that line).

Two things never block the loop, and always hop:

- **a lock held by another connection.** Connections have no busy timeout
  (``PRAGMA busy_timeout=0``): a statement that finds the database locked
  (``SQLITE_BUSY``) fails at once on the loop, and is run again in the connection's
  thread, which waits for the lock as SQLite's busy handler would (``PATIENCE_SECONDS``;
  1, 2, 5 … 100 ms steps). Waiting on the loop could deadlock: the holder may be a
  transaction of this very process waiting for the loop. ``SQLITE_BUSY_SNAPSHOT`` (a
  read snapshot gone stale) fails as before.
- **big statements**: an ``executemany`` of more than ``INLINE_ROWS`` rows (a
  catch-up batch, a rebuild) runs in the thread;
- **long reads**: statements run ``off_the_loop()`` (a report over every client's facts,
  seconds on a large log) run in the thread, so the loop answers meanwhile.

Commits and rollbacks run on the loop too (the stock adapter hops for each, and a
pooled connection is rolled back on every return); a commit that checkpoints the WAL
writes and syncs the database file meanwhile, briefly (docs/architecture.md).
"""

from __future__ import annotations

import collections
import contextvars
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from baton_shared.observability.logging import get_logger

log = get_logger("baton.sqlite")
OneHopCursor: type | None = None  # set by install()
INLINE_ROWS = 64  # executemany with more rows than this runs in the connection's thread
PATIENCE_SECONDS = 30.0  # how long a statement waits for a lock held by another connection
_OFF_THE_LOOP = contextvars.ContextVar("baton_sqlite_off_the_loop", default=False)
_STEPS = (0.001, 0.002, 0.005, 0.010, 0.015, 0.020, 0.025, 0.025, 0.025, 0.050, 0.050, 0.100)  # SQLite's own


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


class SpareCore:
    """Whether the machine has more than half a core idle, from ``/proc/stat``'s aggregate
    line, sampled at most every ``every`` seconds (on the caller's thread: a read of a
    small file). Without ``/proc/stat`` (not Linux): always True, the stock behaviour."""

    def __init__(self, path: str = "/proc/stat", every: float = 0.5) -> None:
        self.path = path
        self.every = every
        self.cores = os.cpu_count() or 1
        self.spare = True
        self._at = 0.0
        self._last: tuple[int, int] | None = None

    def _times(self) -> tuple[int, int] | None:
        try:
            with open(self.path, "rb") as f:
                fields = f.readline().split()[1:]
        except OSError:
            return None
        ticks = [int(x) for x in fields[:8]]
        return sum(ticks), ticks[3] + ticks[4]  # total, idle + iowait

    def __call__(self) -> bool:
        now = time.monotonic()
        if now - self._at < self.every:
            return self.spare
        self._at = now
        times = self._times()
        if times is None:
            return True
        if self._last is not None and times[0] > self._last[0]:
            idle_cores = self.cores * (times[1] - self._last[1]) / (times[0] - self._last[0])
            self.spare = idle_cores > 0.5
        self._last = times
        return self.spare


spare_core = SpareCore()
ON_LOOP: bool | None = True  # True: on the loop, False: in the thread, None: by spare_core()
PLACES = {"auto": None, "loop": True, "thread": False}


def run_statements(place: str) -> None:
    """Where this process's SQLite statements run: ``auto`` (the spare-core rule), ``loop``
    or ``thread`` (``BATON_SQLITE_STATEMENTS``)."""
    global ON_LOOP
    if place not in PLACES:
        raise ValueError(f"SQLite statements run in one of {', '.join(PLACES)}, not {place!r}")
    ON_LOOP = PLACES[place]


@contextmanager
def off_the_loop() -> Iterator[None]:
    """Within it, this task's SQLite statements run in the connection's thread, whatever
    ``BATON_SQLITE_STATEMENTS`` says: for reads that take long enough to stall the loop."""
    token = _OFF_THE_LOOP.set(True)
    try:
        yield
    finally:
        _OFF_THE_LOOP.reset(token)


def _run(conn: Any, operation: Any, parameters: Any, many: bool) -> tuple[Any, int, Any, list | None]:
    """The whole statement, the cursor closed after."""
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


def is_busy(exc: BaseException) -> bool:
    """The database is locked by another connection (not a stale snapshot: retrying the
    statement cannot help that one, its transaction must start again)."""
    return isinstance(exc, sqlite3.OperationalError) and getattr(exc, "sqlite_errorname", "") == "SQLITE_BUSY"


def _patiently(fn: Callable[..., Any], *args: Any) -> Any:
    """In the connection's thread: ``fn(*args)``, waiting for a lock like SQLite's busy handler."""
    deadline = time.monotonic() + PATIENCE_SECONDS
    attempt = 0
    while True:
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(min(_STEPS[min(attempt, len(_STEPS) - 1)], max(0.0, deadline - time.monotonic())))
        attempt += 1


async def _on_loop_or_hop(aio: Any, inline: bool, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on the loop when ``inline`` and the database is not locked; otherwise in
    the aiosqlite connection's thread (``aio._execute``), patiently."""
    if inline:
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
    return await aio._execute(_patiently, fn, *args)  # noqa: SLF001 - aiosqlite's queue to its thread


def install() -> bool:
    """Make the one-hop cursor (and inline commit and rollback) SQLAlchemy's aiosqlite
    adapter's. True if installed."""
    try:
        from sqlalchemy.dialects.sqlite import aiosqlite as dialect
        from sqlalchemy.util.concurrency import await_
    except ImportError:  # pragma: no cover - SQLAlchemy without the aiosqlite dialect
        return False
    stock = getattr(dialect, "AsyncAdapt_aiosqlite_cursor", None)
    connection = getattr(dialect, "AsyncAdapt_aiosqlite_connection", None)
    needed = ("_make_new_cursor", "_execute_async", "_executemany_async", "_aenter_cursor")
    if (
        stock is None
        or connection is None
        or not all(hasattr(stock, n) for n in needed)
        or not all(hasattr(connection, n) for n in ("commit", "rollback", "_handle_exception"))
    ):
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
            small = not many or len(parameters) <= INLINE_ROWS
            inline = small and not _OFF_THE_LOOP.get() and (ON_LOOP if ON_LOOP is not None else not spare_core())
            async with self._adapt_connection._execute_mutex:
                description, rowcount, lastrowid, rows = await _on_loop_or_hop(
                    aio, inline, _run, aio._conn, operation, parameters, many
                )
            self._cursor = _Outcome(description, rowcount, lastrowid)
            if description and not self.server_side:
                self._rows = collections.deque(rows)
            return None

    def _finish(adapted: Any, how: str) -> None:  # noqa: D401 - commit or rollback, on the loop
        aio = adapted._connection
        if not aio._connection:  # closed: as the stock adapter, nothing to do
            return
        try:
            await_(_on_loop_or_hop(aio, True, getattr(aio._conn, how)))
        except Exception as error:  # noqa: BLE001 - the adapter translates it, as the stock one
            adapted._handle_exception(error)

    OneHopCursor = OneHop
    connection._cursor_cls = OneHop
    connection.commit = lambda self: _finish(self, "commit")
    connection.rollback = lambda self: _finish(self, "rollback")
    return True
