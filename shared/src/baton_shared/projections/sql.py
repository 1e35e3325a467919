"""SQL helpers shared by projections: engines, dialect-specific upserts, row loads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Table, event, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

# PostgreSQL accepts at most 65,535 bind parameters per statement.
_MAX_PARAMS = 30_000


def make_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            from pathlib import Path

            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_async_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True, **kwargs)


def _insert_for(conn: AsyncConnection):
    return postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert


async def upsert(
    conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> None:
    """Insert ``rows`` or update them where the key exists, in as few statements as possible."""
    if not rows:
        return
    insert = _insert_for(conn)
    columns = list(rows[0].keys())
    chunk = max(1, _MAX_PARAMS // max(1, len(columns)))
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        stmt = insert(table).values(part)
        updates = {c: stmt.excluded[c] for c in columns if c not in keys}
        if updates:
            stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_=updates)
        else:
            stmt = stmt.on_conflict_do_nothing(index_elements=list(keys))
        await conn.execute(stmt)


async def insert_rows(conn: AsyncConnection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    if not rows:
        return
    chunk = max(1, _MAX_PARAMS // max(1, len(rows[0])))
    for start in range(0, len(rows), chunk):
        await conn.execute(table.insert().values(list(rows[start : start + chunk])))


async def load_rows(
    conn: AsyncConnection, table: Table, key: str, keys: Iterable[Any]
) -> dict[Any, dict[str, Any]]:
    """The existing rows for ``keys`` (one query per 1,000 keys), as dicts by key."""
    wanted = list(dict.fromkeys(keys))
    out: dict[Any, dict[str, Any]] = {}
    column = table.c[key]
    for start in range(0, len(wanted), 1000):
        part = wanted[start : start + 1000]
        result = await conn.execute(table.select().where(column.in_(part)))
        for row in result.mappings():
            out[row[key]] = dict(row)
    return out


__all__ = ["insert_rows", "load_rows", "make_engine", "tuple_", "upsert"]
