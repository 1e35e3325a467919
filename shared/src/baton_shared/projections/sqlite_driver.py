"""Baton's SQLite driver for SQLAlchemy's asyncio engine: statements on the event loop's
thread, or in one thread hop each.

A PEP 249 module of its own over ``sqlite3`` (``connect``, its exceptions, ``qmark``
parameters) and a SQLAlchemy dialect that uses it (``sqlite+baton``; ``make_engine``
runs every SQLite URL on it). A statement is run whole in one call (cursor, execute,
fetch, close), and SQLAlchemy reads what it left (description, rowcount, lastrowid,
rows). The stock aiosqlite adapter made a thread round trip of each of those steps,
and the round trips, not SQLite, were where a projection transaction's time went.

Where a statement runs, on the loop or in the connection's thread, is decided in
``sqlite_placement``.
"""

from __future__ import annotations

import asyncio
import collections
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from sqlite3 import (  # noqa: F401 - the exceptions and constants a PEP 249 module has
    PARSE_COLNAMES,
    PARSE_DECLTYPES,
    Binary,
    DatabaseError,
    DataError,
    Error,
    IntegrityError,
    InterfaceError,
    InternalError,
    NotSupportedError,
    OperationalError,
    ProgrammingError,
    sqlite_version,
    sqlite_version_info,
)
from typing import Any

from sqlalchemy import pool
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.exc import MissingGreenlet
from sqlalchemy.util import await_

from baton_shared.projections.sqlite_placement import is_busy, on_loop, run_on

apilevel = "2.0"
threadsafety = 1
paramstyle = "qmark"
INLINE_ROWS = 64  # executemany with more rows than this runs in a thread


def _call(conn: Connection, inline: bool, fn: Callable[..., Any], *args: Any) -> Any:
    """From SQLAlchemy's greenlet, always through the loop: its asyncio engine requires a
    statement to await (a coroutine run on the loop: a greenlet switch each way)."""
    return await_(run_on(conn, inline, fn, *args))


def _here_or_patiently(conn: Connection, fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` right here, on the loop's thread, for a caller that needs no await; if the
    database is locked, or something of the connection's is in its thread, there, patiently."""
    if not conn.in_thread:
        try:
            return fn(*args)
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
    return _call(conn, False, fn, *args)


def _run(conn: sqlite3.Connection, operation: Any, parameters: Any, many: bool) -> tuple[Any, int, Any, list]:
    """The whole statement, the cursor closed after."""
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, cursor.rowcount, cursor.lastrowid, rows
    finally:
        cursor.close()


class Cursor:
    """A statement's outcome: run whole on ``execute``, its rows kept to fetch."""

    __slots__ = ("arraysize", "connection", "description", "lastrowid", "rowcount", "rows")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: Any = None
        self.arraysize = 1
        self.rows: collections.deque = collections.deque()

    def execute(self, operation: Any, parameters: Any = None) -> None:
        self._statement(operation, parameters, many=False, small=True)

    def executemany(self, operation: Any, seq_of_parameters: Any) -> None:
        self._statement(operation, seq_of_parameters, many=True, small=len(seq_of_parameters) <= INLINE_ROWS)

    def _statement(self, operation: Any, parameters: Any, many: bool, small: bool) -> None:
        conn = self.connection
        inline = on_loop(small)
        if conn.direct and inline:
            outcome = _here_or_patiently(conn, _run, conn.sqlite, operation, parameters, many)
        else:
            outcome = _call(conn, inline, _run, conn.sqlite, operation, parameters, many)
        self.description, self.rowcount, self.lastrowid, rows = outcome
        self.rows = collections.deque(rows)

    def fetchone(self) -> Any:
        return self.rows.popleft() if self.rows else None

    def fetchmany(self, size: int | None = None) -> list:
        rows = self.rows
        return [rows.popleft() for _ in range(min(size or self.arraysize, len(rows)))]

    def fetchall(self) -> list:
        rows = list(self.rows)
        self.rows.clear()
        return rows

    def __iter__(self) -> Iterator[Any]:
        while self.rows:
            yield self.rows.popleft()

    def close(self) -> None:
        self.rows.clear()

    async def _async_soft_close(self) -> None:
        """Called by SQLAlchemy's asyncio results on a cursor with rows: nothing is held open."""


class Connection:
    """A PEP 249 connection over one ``sqlite3`` connection (``sqlite``), with a thread of
    its own for what leaves the loop, started at the first hop. Once something is in that
    thread, everything of the connection's goes there until it is done, so no two threads
    ever use the connection at once (a cancelled caller does not stop its statement)."""

    __slots__ = ("direct", "in_thread", "jobs", "sqlite")

    def __init__(self, sqlite: sqlite3.Connection) -> None:
        self.sqlite = sqlite
        self.jobs: queue.SimpleQueue | None = None
        self.in_thread = 0  # jobs given to the thread and not yet answered (counted on the loop)
        self.direct = False  # see statements_direct

    def cursor(self) -> Cursor:
        return Cursor(self)

    def commit(self) -> None:
        self._finish(self.sqlite.commit)

    def rollback(self) -> None:
        self._finish(self.sqlite.rollback)

    def _finish(self, how: Callable[[], None]) -> None:
        """On the loop whatever the setting (SQLite's part is small, a hop is not), directly:
        the pool rolls back a returned connection outside SQLAlchemy's greenlet too. A commit
        that finds the database locked waits in the thread."""
        _here_or_patiently(self, how)

    def close(self) -> None:
        """Closed when this returns (a restore may replace the file next); with a thread,
        there, after whatever it still has, and then the thread ends. Outside SQLAlchemy's
        greenlet (a connection dropped by the garbage collector) it is left to the thread."""
        if self.jobs is None:
            self.sqlite.close()
            return
        jobs = self.jobs
        try:
            _call(self, False, self.sqlite.close)
        except MissingGreenlet:
            jobs.put((None, self.sqlite.close, ()))
        finally:
            self.jobs = None
            jobs.put(None)

    def create_function(self, *args: Any, **kwargs: Any) -> None:
        self.sqlite.create_function(*args, **kwargs)

    @property
    def isolation_level(self) -> str | None:
        return self.sqlite.isolation_level

    @isolation_level.setter
    def isolation_level(self, value: str | None) -> None:
        self.sqlite.isolation_level = value

    async def hop(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` in this connection's thread; the loop goes on meanwhile."""
        if self.jobs is None:
            self.jobs = queue.SimpleQueue()
            threading.Thread(target=_serve, args=(self, self.jobs), name="baton-sqlite", daemon=True).start()
        answer = asyncio.get_running_loop().create_future()
        self.in_thread += 1
        self.jobs.put((answer, fn, args))
        return await answer


@contextmanager
def statements_direct(dbapi_connection: Any) -> Iterator[None]:
    """Within it, a statement of ``dbapi_connection`` (if it is one of this driver's) that runs
    on the loop is called directly, not handed to the loop and back: two greenlet switches
    and a coroutine less each. Only for a synchronous function SQLAlchemy runs with
    ``run_sync`` (a write transaction): its ``execute`` requires an await, and would refuse
    a statement that made none."""
    if not isinstance(dbapi_connection, Connection):
        yield
        return
    dbapi_connection.direct = True
    try:
        yield
    finally:
        dbapi_connection.direct = False


def _serve(conn: Connection, jobs: queue.SimpleQueue) -> None:
    """A connection's thread: its jobs in order, each answer handed back to its loop."""
    while (job := jobs.get()) is not None:
        answer, fn, args = job
        try:
            outcome, failed = fn(*args), False
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome, failed = exc, True
        if answer is not None:
            try:
                answer.get_loop().call_soon_threadsafe(_settle, conn, answer, outcome, failed)
            except RuntimeError:  # the loop is closed: nobody waits any more
                pass


def _settle(conn: Connection, answer: asyncio.Future, outcome: Any, failed: bool) -> None:
    """On the loop: the job is done (its caller may have been cancelled meanwhile)."""
    conn.in_thread -= 1
    if answer.cancelled():
        return
    if failed:
        answer.set_exception(outcome)
    else:
        answer.set_result(outcome)


def in_memory(url: Any) -> bool:
    """A SQLite URL (SQLAlchemy's ``URL``) of a database held in memory, not in a file."""
    return url.database in (None, "", ":memory:") or url.query.get("mode") == "memory"


def connect(database: str, **kwargs: Any) -> Connection:
    """A connection with no busy timeout (see above), usable from the hops' threads."""
    kwargs.update(timeout=0, check_same_thread=False)
    return Connection(sqlite3.connect(database, **kwargs))


class BatonSQLiteDialect(SQLiteDialect_pysqlite):
    """SQLAlchemy's pysqlite dialect, asynchronous, on this module."""

    driver = "baton"
    is_async = True
    supports_statement_cache = True
    supports_server_side_cursors = False
    has_terminate = False

    @classmethod
    def import_dbapi(cls) -> Any:
        import baton_shared.projections.sqlite_driver as module

        return module

    @classmethod
    def get_pool_class(cls, url: Any) -> type[pool.Pool]:
        return pool.StaticPool if in_memory(url) else pool.AsyncAdaptedQueuePool

    def get_driver_connection(self, connection: Any) -> sqlite3.Connection:
        return connection.sqlite


def install() -> None:
    """Make ``sqlite+baton`` URLs SQLAlchemy's (``make_engine`` uses it for every SQLite URL)."""
    registry.register("sqlite.baton", __name__, "BatonSQLiteDialect")
