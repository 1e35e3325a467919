"""SQLite statements as Baton's engines run them (baton_shared.projections.sqlite_driver).

    .venv/bin/python bench/sqlite_bench.py          # statements on the event loop
    .venv/bin/python bench/sqlite_bench.py --hop    # a thread hop per statement
    .venv/bin/python bench/sqlite_bench.py --direct # a write transaction's statements: direct or through the loop
    .venv/bin/python bench/sqlite_bench.py --cursor # a one-event batch on the driver's cursor or through SQLAlchemy

Prints the CPU and wall time of a projection-shaped write transaction (select a row,
upsert it, move a checkpoint, commit) plus a read on a pooled connection, and the
latency distribution of 20,000 write transactions of a 2 KB row: what a commit that
checkpoints the WAL costs the event loop, since statements and commits run on it.
``--direct`` prints instead the CPU per upsert in write transactions of 20, with the
statements called directly (``sqlite_driver.statements_direct``, as Baton runs them) and
handed to the loop and back, alternated six times. ``--cursor`` prints the CPU per one-event
projection batch with the helpers' statements on the driver's cursor (``sqlite_statements``)
and through SQLAlchemy's execution, alternated six times.
"""

from __future__ import annotations

import asyncio
import tempfile
import time

from sqlalchemy import Connection, text

from baton_shared.projections import sqlite_placement
from baton_shared.projections.sql import make_engine
from baton_shared.projections.write_transactions import in_write_transaction


async def transaction_cpu(n: int = 3000) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE rows (k TEXT PRIMARY KEY, v TEXT)"))
        await conn.execute(text("CREATE TABLE checkpoints (name TEXT PRIMARY KEY, position INTEGER)"))
        await conn.execute(text("INSERT INTO checkpoints VALUES ('p', 0)"))

    def write(conn: Connection, i: int) -> None:
        conn.execute(text("SELECT v FROM rows WHERE k = :k"), {"k": f"k{i % 500}"})
        conn.execute(
            text("INSERT INTO rows VALUES (:k, :v) ON CONFLICT (k) DO UPDATE SET v = excluded.v"),
            {"k": f"k{i % 500}", "v": "x" * 200},
        )
        conn.execute(text("UPDATE checkpoints SET position = :p WHERE name = 'p'"), {"p": i})

    async def one(i: int) -> None:
        await in_write_transaction(engine, write, i)
        async with engine.connect() as conn:
            (await conn.execute(text("SELECT v FROM rows WHERE k = :k"), {"k": f"k{i % 500}"})).all()

    for i in range(200):
        await one(i)
    cpu, wall = time.process_time(), time.perf_counter()
    for i in range(n):
        await one(i)
    print(
        f"write transaction + read: {1e6 * (time.perf_counter() - wall) / n:.0f} us wall, "
        f"{1e6 * (time.process_time() - cpu) / n:.0f} us CPU (process, all threads)"
    )
    await engine.dispose()


def write_row(conn: Connection, i: int) -> None:
    conn.execute(
        text("INSERT INTO rows VALUES (:k, :v) ON CONFLICT (k) DO UPDATE SET v = excluded.v"),
        {"k": f"k{i % 5000}", "v": "x" * 2000},
    )


async def direct_or_through_the_loop(rounds: int = 6, n: int = 300) -> None:
    import contextlib

    from sqlalchemy import Column, Integer, MetaData, String, Table

    from baton_shared.projections import sqlite_driver, write_transactions
    from baton_shared.projections.sql import upsert

    table = Table("rows", MetaData(), Column("id", Integer, primary_key=True), Column("v", String))

    def write(conn: Connection, k: int) -> None:
        for i in range(20):
            upsert(conn, table, [{"id": i, "v": f"v{k}"}], ["id"])

    engine = make_engine(f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    async with engine.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
    kept = write_transactions.KeptConnection()
    took: dict[str, list[float]] = {"direct": [], "through the loop": []}
    for _ in range(rounds):
        for way in took:
            write_transactions.statements_direct = (
                sqlite_driver.statements_direct if way == "direct" else lambda _c: contextlib.nullcontext()
            )
            for k in range(50):
                await in_write_transaction(engine, write, k, kept=kept)
            started = time.process_time()
            for k in range(n):
                await in_write_transaction(engine, write, k, kept=kept)
            took[way].append((time.process_time() - started) / n / 20 * 1e6)
    write_transactions.statements_direct = sqlite_driver.statements_direct
    await kept.close()
    await engine.dispose()
    for way, us in took.items():
        print(f"CPU per upsert, {way}: " + ", ".join(f"{x:.1f}" for x in sorted(us)) + " us")


async def cursor_or_sqlalchemy(rounds: int = 6, n: int = 2000) -> None:
    """A one-event projection batch (load the row, upsert it, move the checkpoint, commit) with
    the helpers' statements on the driver's cursor (``sqlite_statements``, as Baton runs them)
    and through SQLAlchemy's execution, alternated."""
    from datetime import datetime, timezone

    from sqlalchemy import JSON, BigInteger, Column, DateTime, MetaData, String, Table

    from baton_shared.projections import sqlite_statements
    from baton_shared.projections.checkpoints import advance_checkpoint, ensure_checkpoint
    from baton_shared.projections.checkpoints import metadata as checkpoint_metadata
    from baton_shared.projections.sql import load_rows, upsert

    table = Table(
        "clients",
        MetaData(),
        Column("client_id", String(64), primary_key=True),
        Column("name", String(200)),
        Column("doc", JSON),
        Column("at", DateTime(timezone=True)),
        Column("version", BigInteger),
    )
    at = datetime(2026, 12, 6, tzinfo=timezone.utc)
    engine = make_engine(f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    async with engine.begin() as conn:
        await conn.run_sync(table.metadata.create_all)
        await conn.run_sync(checkpoint_metadata.create_all)
        await ensure_checkpoint(conn, "p", "S")
    position = [0]

    def write(conn: Connection, i: int) -> None:
        key = f"c{i % 500}"
        row = load_rows(conn, table, "client_id", [key]).get(key) or {
            "client_id": key,
            "name": "n",
            "doc": {},
            "at": at,
            "version": 0,
        }
        upsert(conn, table, [dict(row, version=i, doc={"seen": [i]})], ["client_id"])
        advance_checkpoint(conn, "p", "S", position[0], position[0] + 1)
        position[0] += 1

    on_cursor = sqlite_statements.on_cursor
    took: dict[str, list[float]] = {"on the cursor": [], "through SQLAlchemy": []}
    for r in range(rounds):
        for way in took:
            sqlite_statements.on_cursor = on_cursor if way == "on the cursor" else lambda _conn: None
            started = time.process_time()
            for i in range(n):
                await in_write_transaction(engine, write, r * n + i)
            took[way].append((time.process_time() - started) / n * 1e6)
    sqlite_statements.on_cursor = on_cursor
    await engine.dispose()
    for way, us in took.items():
        print(f"CPU per one-event batch, {way}: " + ", ".join(f"{x:.0f}" for x in sorted(us)) + " us")


async def commit_latency(n: int = 20_000) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tempfile.mkdtemp()}/bench.sqlite3")
    async with engine.begin() as conn:
        await conn.execute(text("CREATE TABLE rows (k TEXT PRIMARY KEY, v TEXT)"))
    took = []
    for i in range(n):
        started = time.perf_counter()
        await in_write_transaction(engine, write_row, i)
        took.append(1000 * (time.perf_counter() - started))
    took.sort()
    print(
        f"{n:,} write transactions of a 2 KB row, ms: p50 {took[n // 2]:.3f}, p99 {took[int(n * 0.99)]:.3f}, "
        f"p99.9 {took[int(n * 0.999)]:.3f}, max {took[-1]:.1f}"
    )
    await engine.dispose()


if __name__ == "__main__":
    import sys

    sqlite_placement.run_statements("thread" if "--hop" in sys.argv[1:] else "loop")  # one place, not "auto"
    print("statements", "on the event loop" if sqlite_placement.ON_LOOP else "in the connection's thread")
    if "--direct" in sys.argv[1:]:
        asyncio.run(direct_or_through_the_loop())
        sys.exit()
    if "--cursor" in sys.argv[1:]:
        asyncio.run(cursor_or_sqlalchemy())
        sys.exit()
    asyncio.run(transaction_cpu())
    asyncio.run(commit_latency())
