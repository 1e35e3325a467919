"""SQL helpers shared by projections: engines, dialect-specific upserts, row loads."""

from __future__ import annotations

import time
import weakref
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from datetime import date, datetime, timezone

import asyncpg
import orjson
from sqlalchemy import JSON, Connection, Table, bindparam, delete, event, exc, make_url, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from baton_shared.projections import sqlite_driver, sqlite_statements


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


def sqlite_file(url: Any) -> str | None:
    """The database file of a SQLite URL; None for another database or one in memory."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or sqlite_driver.in_memory(parsed):
        return None
    return parsed.database


def make_engine(url: str, *, statement_timeout: float | None = None, **kwargs: Any) -> AsyncEngine:
    """An engine for projections and views. ``statement_timeout`` (PostgreSQL; a service's
    engine sets it, the ops tool's rebuilds do not) bounds each statement, and a third of
    it (at most 10 s) a new connection: a database that stops answering raises
    ``TimeoutError`` (an outage: reads answer 503, projections retry) instead of waiting."""
    kwargs.setdefault("json_serializer", _json_dumps)
    kwargs.setdefault("json_deserializer", orjson.loads)
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        if path is not None:
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        sqlite_driver.install()  # Baton's own driver: statements on the loop or in one thread hop
        url = make_url(url).set(drivername="sqlite+baton")
        # Connections are kept, not opened per burst: with SQLAlchemy's default pool (5 + 10
        # overflow) sixteen concurrent requests opened and closed overflow connections all the
        # time, and a new connection's first query reads the schema again.
        if path is not None:  # in memory: one connection, no pool
            kwargs.setdefault("pool_size", 32)
            kwargs.setdefault("max_overflow", 32)
        engine = create_async_engine(url, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if statement_timeout is not None and url.startswith("postgresql+asyncpg"):
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("command_timeout", statement_timeout)
        connect_args.setdefault("timeout", min(10.0, max(1.0, statement_timeout / 3)))
    # Last in, first out: under load the connection just handed back is the one taken again,
    # so it is never idle long enough to be pinged; the others are, before they are used.
    engine = create_async_engine(url, pool_size=10, max_overflow=10, pool_use_lifo=True, **kwargs)
    ping_after_idle(engine, IDLE_BEFORE_PING_SECONDS)
    return engine


IDLE_BEFORE_PING_SECONDS = 1.0


def ping_after_idle(engine: AsyncEngine, idle_seconds: float) -> None:
    """Ping a pooled connection before use only when it sat idle over ``idle_seconds``.

    SQLAlchemy's ``pool_pre_ping`` pings on every checkout: on asyncpg a transaction and a
    statement, three round trips before every read. A database restarted
    since a connection was last used is found by the ping when the connection idled (a
    restart takes longer than ``idle_seconds``), else by its first statement, which fails as
    during the outage itself, and invalidates the pool as the failed ping does."""
    sync = engine.sync_engine

    @event.listens_for(sync, "checkin")
    def _idle_from(_dbapi_connection, record) -> None:  # noqa: ANN001
        record.info["baton_idle_since"] = time.monotonic()

    @event.listens_for(sync, "checkout")
    def _ping_if_idle(dbapi_connection, record, _proxy) -> None:  # noqa: ANN001
        since = record.info.get("baton_idle_since")
        if since is None or time.monotonic() - since <= idle_seconds:
            return
        dialect = sync.dialect
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if not dialect.is_disconnect(error, dbapi_connection, None):
                raise
            # As the pre-ping does: this and every older connection are dropped, a new one taken.
            raise exc.InvalidatePoolError(f"an idle connection is gone: {error!r}") from error


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    *,
    update: bool = True,
) -> None:
    """Insert ``rows``, updating (or, with ``update=False``, keeping) rows whose key exists.

    One statement compiled once and executed for all rows (executemany): asyncpg
    pipelines it, SQLite runs it in one prepared loop. Every row must have the
    same columns.
    """
    if not rows:
        return
    stmt = _upsert_statement(conn.dialect.name, table, tuple(rows[0].keys()), tuple(keys), update)
    sqlite_statements.execute_many(conn, stmt, rows)


_upserts: weakref.WeakKeyDictionary[Table, dict[tuple, Any]] = weakref.WeakKeyDictionary()


def _upsert_statement(dialect: str, table: Table, columns: tuple[str, ...], keys: tuple[str, ...], update: bool):
    """Built once per table and shape: building one (``excluded`` makes an alias of the
    table) cost more than executing it for a live batch of a few rows."""
    cache = _upserts.setdefault(table, {})
    key = (dialect, columns, keys, update)
    stmt = cache.get(key)
    if stmt is None:
        stmt = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)
        updates = {c: stmt.excluded[c] for c in columns if c not in keys}
        if update and updates:
            stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        cache[key] = stmt
    return stmt


_key_selects: weakref.WeakKeyDictionary[Table, dict[str, Any]] = weakref.WeakKeyDictionary()


async def row_by(conn: AsyncConnection, table: Table, key: str, value: Any) -> Any:
    """The row (a mapping) of ``table`` whose ``key`` column is ``value``, the first if several,
    None if none: a view's read of one row. The statement is built once per table and column:
    building and keying it anew was about a third of such a read's CPU."""
    stmt = _key_selects.setdefault(table, {}).get(key)
    if stmt is None:
        stmt = _key_selects[table][key] = table.select().where(table.c[key] == bindparam("value"))
    return (await conn.execute(stmt, {"value": value})).mappings().first()


COPY_FROM_ROWS = 100


def insert_new(conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]) -> None:
    """Insert rows that should all be new, keeping any that already exist.

    On PostgreSQL, ``COPY_FROM_ROWS`` rows or more (a catch-up, a rebuild) go in
    with ``COPY`` (binary, through asyncpg), about twice as fast as an executemany
    insert, inside a savepoint; should a key exist after all, the savepoint is
    rolled back and the rows inserted with ``ON CONFLICT DO NOTHING``. Fewer rows
    (a live batch) and other databases: that insert directly, as the savepoint and
    the COPY's own round trips cost more than they save.
    """
    if not rows:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "asyncpg" and len(rows) >= COPY_FROM_ROWS:
        columns = [c.name for c in table.columns]
        json_columns = {c.name for c in table.columns if isinstance(c.type, JSON)}
        records = [
            tuple(_json_dumps(row[c]) if c in json_columns and row[c] is not None else row.get(c) for c in columns)
            for row in rows
        ]
        try:
            with conn.begin_nested():
                conn.connection.dbapi_connection.run_async(
                    lambda raw: raw.copy_records_to_table(table.name, records=records, columns=columns)
                )
            return
        except asyncpg.UniqueViolationError:
            pass  # a key exists after all: the savepoint is gone, insert keeping what is there
    upsert(conn, table, rows, keys, update=False)


_row_selects: weakref.WeakKeyDictionary[Table, dict[str, Any]] = weakref.WeakKeyDictionary()


def load_rows(conn: Connection, table: Table, key: str, keys: Iterable[Any]) -> dict[Any, dict[str, Any]]:
    """The existing rows for ``keys`` (one query per 1,000 keys), as dicts by key."""
    wanted = list(dict.fromkeys(keys))
    out: dict[Any, dict[str, Any]] = {}
    if not wanted:
        return out
    on_cursor = sqlite_statements.load_rows(conn, table, key, wanted)
    if on_cursor is not None:
        return {row[key]: row for row in on_cursor}
    stmt = _row_selects.setdefault(table, {}).get(key)
    if stmt is None:  # built once per table: building it cost more than running it for a few keys
        stmt = _row_selects[table][key] = table.select().where(table.c[key].in_(bindparam("keys", expanding=True)))
    for start in range(0, len(wanted), 1000):
        part = wanted[start : start + 1000]
        result = conn.execute(stmt, {"keys": part})
        for row in result.mappings():
            out[row[key]] = dict(row)
    return out


def move_counts(
    conn: Connection, table: Table, keys: Sequence[str], moved: dict[tuple, int], *, count: str = "n"
) -> None:
    """Add ``moved`` (a row's key values, in ``keys``' order -> the change) to the counts ``table``
    keeps in ``count``; a count that comes to 0 is deleted. 300 keys a query."""
    moved = {k: n for k, n in moved.items() if n}
    if not moved:
        return
    columns = [table.c[k] for k in keys]
    key = tuple_(*columns) if len(columns) > 1 else columns[0]

    def chunks(rows: list[tuple]):  # noqa: ANN202
        for i in range(0, len(rows), 300):
            part = rows[i : i + 300]
            yield part if len(columns) > 1 else [k[0] for k in part]

    stored: dict[tuple, int] = {}
    for part in chunks(list(moved)):
        for row in conn.execute(select(table).where(key.in_(part))).mappings():
            stored[tuple(row[k] for k in keys)] = row[count]
    now = {k: stored.get(k, 0) + n for k, n in moved.items()}
    for part in chunks([k for k, n in now.items() if n == 0]):
        conn.execute(delete(table).where(key.in_(part)))
    upsert(conn, table, [{**dict(zip(keys, k, strict=True)), count: n} for k, n in now.items() if n], keys)


def existing_keys(
    events: Iterable[Any], created_by: type | None, key_of: Callable[[Any], Any] | None = None
) -> list[Any]:
    """Keys whose rows must be loaded: those not created within this batch.

    In a catch-up most rows are born in the batch that changes them; skipping
    their lookup saves a query's worth of work per batch. ``created_by`` must be
    an event that happens once per key (None: load every key)."""
    key_of = key_of or (lambda recorded: recorded.envelope.aggregate_id)
    born: set[Any] = set()
    wanted: dict[Any, None] = {}
    for recorded in events:
        key = key_of(recorded)
        if key in born or key in wanted:
            continue
        if created_by is not None and isinstance(recorded.event, created_by):
            born.add(key)
        else:
            wanted[key] = None
    return list(wanted)


def stored_utc(value: datetime) -> datetime:
    """A stored moment with its zone: SQLite keeps none, and Baton stores UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def bytewise(bind: AsyncEngine | AsyncConnection, column: Any) -> Any:
    """``column`` ordered by code point, as Python orders ``str`` and SQLite text,
    whatever PostgreSQL's collation."""
    return column.collate("C") if bind.dialect.name == "postgresql" else column


def json_row(row: Any) -> dict[str, Any]:
    """A row as a JSON-ready dict: dates in ISO 8601, datetimes with their zone
    (SQLite keeps none; Baton stores UTC), and keys as plain ``str``.

    A row mapping's keys are SQLAlchemy's ``quoted_name`` (a ``str`` subclass), which
    pydantic's serializer cannot take on its fast path (a large share of a GET's CPU)."""
    out = {}
    for key, value in dict(row).items():
        if isinstance(value, datetime):
            value = stored_utc(value)
        out[str(key)] = value.isoformat() if isinstance(value, (datetime, date)) else value
    return out


__all__ = [
    "COPY_FROM_ROWS",
    "bytewise",
    "existing_keys",
    "insert_new",
    "json_row",
    "load_rows",
    "make_engine",
    "row_by",
    "stored_utc",
    "tuple_",
    "upsert",
]
