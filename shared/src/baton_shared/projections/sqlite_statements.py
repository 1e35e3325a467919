"""A projection's two commonest statements on SQLite, run on Baton's driver's cursor.

Through SQLAlchemy a cached statement still costs tens of microseconds of Python per
execution beside SQLite's few (its cache key, an execution context, parameter and result
processing), and an upsert and a load of rows are most of a live batch's statements. Here
each is compiled once per table and shape by SQLAlchemy (the same SQL), its parameters and
rows converted by the column types' own processors for the dialect (the same stored values),
and handed to the DBAPI cursor. Only inside a write transaction's ``run_sync`` on the
``sqlite+baton`` driver; anything else goes through SQLAlchemy as before.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table, bindparam
from sqlalchemy.sql.dml import Insert

from baton_shared.projections import sqlite_driver

Processor = Callable[[Any], Any] | None
MOST_KEYS = 64  # a load of more rows than this (a catch-up's) goes through SQLAlchemy


def on_cursor(conn: Connection) -> sqlite_driver.Connection | None:
    """The driver's connection, when ``conn`` runs its statements directly (a write transaction
    on ``sqlite+baton``); None otherwise."""
    raw = conn.connection.dbapi_connection
    return raw if isinstance(raw, sqlite_driver.Connection) and raw.direct else None


def _processor(conn: Connection, type_: Any, result: bool = False) -> Processor:
    impl = type_.dialect_impl(conn.dialect)
    return impl.result_processor(conn.dialect, None) if result else impl.bind_processor(conn.dialect)


class _Plan:
    """A statement's SQL for the dialect, and its parameters' names and processors in order."""

    __slots__ = ("binds", "sql")

    def __init__(self, conn: Connection, stmt: Any, column_keys: Sequence[str] | None = None) -> None:
        compiled = stmt.compile(dialect=conn.dialect, column_keys=column_keys)
        self.sql = compiled.string
        self.binds = [(name, _processor(conn, compiled.binds[name].type)) for name in compiled.positiontup]

    def parameters(self, values: dict[str, Any]) -> tuple:
        return tuple(values[n] if p is None else p(values[n]) for n, p in self.binds)


# Plans by (id of the statement, column keys), kept with the table the statement writes (a
# rebuild's tables come and go; their statements, kept by the callers as long as the table,
# with them) or, for a statement of no one table, for the process's life.
_plans: weakref.WeakKeyDictionary[Any, dict[tuple, _Plan]] = weakref.WeakKeyDictionary()
_lasting: dict[tuple, _Plan] = {}


def _plan(conn: Connection, stmt: Any, column_keys: tuple[str, ...] | None = None) -> _Plan:
    table = getattr(stmt, "table", None)
    plans = _plans.setdefault(table, {}) if isinstance(table, Table) else _lasting
    plan = plans.get((id(stmt), column_keys))
    if plan is None:
        plan = plans[(id(stmt), column_keys)] = _Plan(conn, stmt, column_keys)
    return plan


def execute(conn: Connection, stmt: Any, values: dict[str, Any]) -> int:
    """``stmt`` (kept by the caller as long as its table) with ``values``, on the cursor where
    it can be, else through SQLAlchemy; its row count."""
    raw = on_cursor(conn)
    if raw is None:
        return conn.execute(stmt, values).rowcount
    plan = _plan(conn, stmt)
    cursor = raw.cursor()
    cursor.execute(plan.sql, plan.parameters(values))
    return cursor.rowcount


def execute_many(conn: Connection, stmt: Insert, rows: Sequence[dict]) -> None:
    """``stmt`` (an insert or upsert of the rows' columns, kept by the caller as long as its
    table) for every row, on the cursor where it can be, else through SQLAlchemy."""
    raw = on_cursor(conn)
    if raw is None:
        conn.execute(stmt, list(rows))
        return
    plan = _plan(conn, stmt, tuple(rows[0]))
    raw.cursor().executemany(plan.sql, [plan.parameters(row) for row in rows])


class _Select:
    __slots__ = ("columns", "key", "sql")

    def __init__(self, conn: Connection, table: Table, key: str, n: int) -> None:
        stmt = table.select().where(table.c[key].in_([bindparam(f"k{i}") for i in range(n)]))
        self.sql = stmt.compile(dialect=conn.dialect).string
        self.key = _processor(conn, table.c[key].type)
        self.columns = [(c.key, _processor(conn, c.type, result=True)) for c in table.columns]


_selects: weakref.WeakKeyDictionary[Table, dict[tuple, _Select]] = weakref.WeakKeyDictionary()


def load_rows(conn: Connection, table: Table, key: str, keys: list[Any]) -> list[dict] | None:
    """The rows whose ``key`` is one of ``keys``, as dicts by column key, read on the cursor;
    None where that cannot be (not in a SQLite write transaction, or more than ``MOST_KEYS``)."""
    raw = on_cursor(conn) if len(keys) <= MOST_KEYS else None
    if raw is None:
        return None
    plans = _selects.setdefault(table, {})
    plan = plans.get((key, len(keys)))
    if plan is None:
        plan = plans[(key, len(keys))] = _Select(conn, table, key, len(keys))
    cursor = raw.cursor()
    cursor.execute(plan.sql, keys if plan.key is None else [plan.key(k) for k in keys])
    columns = plan.columns
    return [{n: v if p is None else p(v) for (n, p), v in zip(columns, row, strict=True)} for row in cursor.fetchall()]
