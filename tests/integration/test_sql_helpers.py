"""The SQL helpers projections share, on SQLite and PostgreSQL."""

import contextlib
from datetime import datetime, timezone

import pytest
from sqlalchemy import JSON, BigInteger, Column, DateTime, MetaData, String, Table, select

from baton_shared.projections.sql import COPY_FROM_ROWS, existing_keys, insert_new, make_engine, upsert
from tests.integration.loop_ticks import counting_ticks, slow_sql_function

metadata = MetaData()
rows_table = Table(
    "helper_rows",
    metadata,
    Column("key", String(20), primary_key=True),
    Column("n", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("doc", JSON, nullable=False),
)
AT = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
async def engine(database_url):
    engine = make_engine(database_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    yield engine
    await engine.dispose()


async def all_rows(engine) -> list[dict]:
    async with engine.connect() as conn:
        return [dict(r) for r in (await conn.execute(select(rows_table).order_by(rows_table.c.key))).mappings()]


@pytest.mark.parametrize("more", [0, COPY_FROM_ROWS], ids=["few-rows", "copy-sized"])
async def test_insert_new_keeps_existing_rows_and_adds_the_rest(engine, more):
    async with engine.begin() as conn:
        await conn.run_sync(insert_new, rows_table, [{"key": "a", "n": 1, "at": AT, "doc": {"x": [1, 2]}}], ["key"])
    # A key that exists already (a collision the COPY path must survive) and new ones.
    extra = [{"key": f"m{i:04}", "n": i, "at": AT, "doc": {}} for i in range(more)]
    async with engine.begin() as conn:
        await conn.run_sync(
            insert_new,
            rows_table,
            [{"key": "a", "n": 99, "at": AT, "doc": {}}, {"key": "b", "n": 2, "at": AT, "doc": {"y": None}}, *extra],
            ["key"],
        )
    got = await all_rows(engine)
    assert [(r["key"], r["n"], r["doc"]) for r in got][:2] == [("a", 1, {"x": [1, 2]}), ("b", 2, {"y": None})]
    assert len(got) == 2 + more


async def test_upsert_updates_or_keeps(engine):
    async with engine.begin() as conn:
        await conn.run_sync(upsert, rows_table, [{"key": "a", "n": 1, "at": AT, "doc": {}}], ["key"])
        await conn.run_sync(upsert, rows_table, [{"key": "a", "n": 2, "at": AT, "doc": {"v": 2}}], ["key"])
        await conn.run_sync(upsert, rows_table, [{"key": "a", "n": 3, "at": AT, "doc": {}}], ["key"], update=False)
    assert [(r["n"], r["doc"]) for r in await all_rows(engine)] == [(2, {"v": 2})]


def test_existing_keys_skips_aggregates_born_in_the_batch():
    class Born:
        pass

    class Changed:
        pass

    def recorded(aggregate_id, event):
        return type("R", (), {"envelope": type("E", (), {"aggregate_id": aggregate_id})(), "event": event})()

    events = [
        recorded("new", Born()),
        recorded("new", Changed()),
        recorded("old", Changed()),
        recorded("old", Changed()),
    ]
    assert existing_keys(events, Born) == ["old"]


@pytest.fixture(params=[True, False], ids=["on-loop", "hop"])
def statements_on_loop(request, monkeypatch):
    """Both places a statement can run (sqlite_placement: BATON_SQLITE_STATEMENTS)."""
    from baton_shared.projections import sqlite_placement

    monkeypatch.setattr(sqlite_placement, "ON_LOOP", request.param)
    return request.param


async def test_sqlite_statements_keep_what_sqlalchemy_reads(tmp_path, statements_on_loop):
    """baton_shared.projections.sqlite_driver: rows, rowcount, lastrowid, errors and
    rollbacks as with the stock aiosqlite cursor (statements on the loop, or one thread hop)."""
    from sqlalchemy import Integer, insert, text, update
    from sqlalchemy.exc import IntegrityError

    from baton_shared.projections import sqlite_driver

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-hop.sqlite3'}")
    counted = Table("counted", MetaData(), Column("id", Integer, primary_key=True), Column("v", String(10)))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(counted.metadata.create_all)
            assert isinstance((await conn.get_raw_connection()).dbapi_connection, sqlite_driver.Connection)
            assert (await conn.execute(insert(counted), [{"id": i, "v": "a"} for i in range(1, 51)])).rowcount == 50
            assert (await conn.execute(insert(counted).values(id=99, v="b"))).inserted_primary_key == (99,)
            assert (await conn.execute(update(counted).where(counted.c.id <= 10).values(v="c"))).rowcount == 10
            assert (
                await conn.execute(select(counted.c.v).where(counted.c.id.in_([1, 11, 99])).order_by(counted.c.id))
            ).scalars().all() == ["c", "a", "b"]
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(insert(counted).values(id=100, v="d"))
                await conn.execute(insert(counted).values(id=1, v="dup"))
        async with engine.connect() as conn:  # the failed transaction left nothing
            assert await conn.scalar(text("SELECT count(*) FROM counted")) == 51
        # More rows than run on the loop: the connection's thread, the same outcome.
        async with engine.begin() as conn:
            many = [{"id": i, "v": "m"} for i in range(1000, 1000 + sqlite_driver.INLINE_ROWS + 1)]
            assert (await conn.execute(insert(counted), many)).rowcount == len(many)
    finally:
        await engine.dispose()


@contextlib.asynccontextmanager
async def counted_database(path):
    """A SQLite file with a ``counted`` table, an engine on it, and another connection (say, the
    ops tool's) to hold its lock with."""
    import sqlite3

    from sqlalchemy import Integer

    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    counted = Table("counted", MetaData(), Column("id", Integer, primary_key=True))
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(counted.metadata.create_all)
        yield engine, counted, other
    finally:
        other.close()
        await engine.dispose()


async def test_a_sqlite_lock_held_elsewhere_is_waited_for_off_the_loop(tmp_path, statements_on_loop):
    """Statements run on the event loop with no busy timeout: one that finds the database
    locked by another connection (here the ops tool, say: another process) waits for it
    in the connection's thread, and the loop goes on meanwhile; a stale snapshot is an
    error at once, as with SQLite's own busy handler."""
    import asyncio
    import time

    from sqlalchemy import insert, text
    from sqlalchemy.exc import OperationalError

    async with counted_database(tmp_path / "locked.sqlite3") as (engine, counted, other):
        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        other.execute("INSERT INTO counted VALUES (1)")
        loop = asyncio.get_running_loop()
        loop.call_later(0.5, other.execute, "COMMIT")
        started = time.monotonic()
        async with counting_ticks() as ticks:
            async with engine.begin() as conn:
                await conn.execute(insert(counted).values(id=2))
        waited = time.monotonic() - started
        assert 0.45 < waited < 5, waited
        assert ticks.count >= 20, (
            f"the loop stood still while the lock was held ({ticks.count} ticks in {waited:.2f} s)"
        )
        async with engine.connect() as conn:
            assert await conn.scalar(text("SELECT count(*) FROM counted")) == 2

        # A read snapshot gone stale cannot become a write by waiting: an error at once.
        async with engine.connect() as conn:
            await conn.execute(text("BEGIN"))
            assert await conn.scalar(text("SELECT count(*) FROM counted")) == 2
            other.execute("INSERT INTO counted VALUES (3)")
            started = time.monotonic()
            with pytest.raises(OperationalError, match="locked"):
                await conn.execute(insert(counted).values(id=4))
            assert time.monotonic() - started < 0.5


async def test_a_write_transaction_runs_its_statements_without_a_loop_round_trip(tmp_path, monkeypatch):
    """In a projection's write transaction (one ``run_sync``), a statement that runs on the
    loop is called directly; elsewhere (``AsyncConnection.execute``, which requires an await)
    each goes to the loop and back. A lock held by another connection is still waited for
    in the connection's thread, with the loop answering meanwhile."""
    import asyncio
    import time

    from sqlalchemy import insert, text

    from baton_shared.projections import sqlite_driver, sqlite_placement
    from baton_shared.projections.write_transactions import in_write_transaction

    monkeypatch.setattr(sqlite_placement, "ON_LOOP", True)
    through_the_loop = []
    run_on = sqlite_driver.run_on

    async def counted_run_on(*args):
        through_the_loop.append(args[2])
        return await run_on(*args)

    monkeypatch.setattr(sqlite_driver, "run_on", counted_run_on)
    async with counted_database(tmp_path / "direct.sqlite3") as (engine, counted, other):
        through_the_loop.clear()

        def write(conn, ids):  # noqa: ANN001
            for i in ids:
                conn.execute(insert(counted).values(id=i))
            return conn.execute(text("SELECT count(*) FROM counted")).scalar()

        assert await in_write_transaction(engine, write, [1, 2, 3]) == 3
        assert through_the_loop == []
        async with engine.begin() as conn:
            await conn.execute(insert(counted).values(id=4))
        assert len(through_the_loop) == 1  # the same statement outside: to the loop and back

        other.execute("BEGIN IMMEDIATE")  # holds the write lock
        other.execute("INSERT INTO counted VALUES (5)")
        asyncio.get_running_loop().call_later(0.5, other.execute, "COMMIT")
        started = time.monotonic()
        async with counting_ticks() as ticks:
            assert await in_write_transaction(engine, write, [6]) == 6
        waited = time.monotonic() - started
        assert 0.45 < waited < 5, waited
        assert ticks.count >= 20, f"the loop stood still while the lock was held ({ticks.count} ticks)"
        async with engine.connect() as conn:
            raw = (await conn.get_raw_connection()).dbapi_connection
            assert isinstance(raw, sqlite_driver.Connection) and raw.direct is False


async def test_nothing_of_a_connection_runs_on_the_loop_while_its_thread_has_work(tmp_path):
    """A caller cancelled during a hop does not stop its statement; whatever the connection
    runs next waits for it, in the connection's thread, so no two threads use it at once."""
    import asyncio
    import threading
    import time

    from baton_shared.projections import sqlite_driver, sqlite_placement
    from tests.integration.services import eventually

    conn = sqlite_driver.connect(str(tmp_path / "hop.sqlite3"))
    ran: list[tuple[str, bool]] = []
    loop_thread = threading.get_ident()

    def slow() -> None:
        time.sleep(0.3)
        ran.append(("slow", threading.get_ident() == loop_thread))

    try:
        hopping = asyncio.create_task(conn.hop(slow))

        async def started() -> bool:
            return conn.in_thread == 1

        await eventually(started, what="the slow job in the connection's thread")
        hopping.cancel()
        after = sqlite_placement.run_on(conn, True, lambda: ran.append(("after", threading.get_ident() == loop_thread)))
        await after
        assert ran == [("slow", False), ("after", False)]
        assert conn.in_thread == 0 and hopping.cancelled()
        await sqlite_placement.run_on(conn, True, lambda: ran.append(("then", threading.get_ident() == loop_thread)))
        assert ran[-1] == ("then", True)  # the thread is idle again: back on the loop
    finally:
        conn.close()


async def test_a_long_read_off_the_loop_leaves_the_loop_answering(tmp_path, statements_on_loop):
    """``off_the_loop()``: a read that takes long (a report over every client) runs in the
    connection's thread whatever the setting, and the loop goes on meanwhile; outside it,
    the setting holds again."""
    import sqlite3

    from sqlalchemy import text

    from baton_shared.projections.sqlite_placement import off_the_loop

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'long-read.sqlite3'}")
    try:
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            raw.driver_connection.create_function("slow", 1, slow_sql_function())
            async with counting_ticks() as ticks:
                with off_the_loop():
                    on_loop = await conn.scalar(text("SELECT slow(500)"))
            assert on_loop == 0 and ticks.count >= 20, f"the loop stood still ({ticks.count} ticks in 0.5 s)"
            assert await conn.scalar(text("SELECT slow(0)")) == int(statements_on_loop)
            sqlite = raw.driver_connection
    finally:
        await engine.dispose()
    # The connection had a thread: closed there, and closed when dispose returned.
    with pytest.raises(sqlite3.ProgrammingError, match="closed"):
        sqlite.execute("SELECT 1")


def test_statements_hop_only_while_a_core_is_spare(tmp_path):
    from baton_shared.projections.sqlite_placement import SpareCore

    stat = tmp_path / "stat"
    spare = SpareCore(str(stat), every=0)
    spare.cores = 2
    stat.write_text("cpu  100 0 100 800 0 0 0 0 0 0\n")
    assert spare() is True  # first sample: no interval yet, the default
    stat.write_text("cpu  190 0 100 810 0 0 0 0 0 0\n")  # 100 ticks, 10 idle: 0.2 of a core idle
    assert spare() is False
    stat.write_text("cpu  240 0 100 860 0 0 0 0 0 0\n")  # 100 ticks, 50 idle: a whole core idle
    assert spare() is True
    assert SpareCore(str(tmp_path / "missing"), every=0)() is True  # no /proc/stat: the stock behaviour


def test_where_statements_run_is_a_setting(monkeypatch):
    """BATON_SQLITE_STATEMENTS: on the loop by default; a place that is not one is refused
    by the settings and by the driver, and changes nothing."""
    from pydantic import ValidationError

    from baton_shared.projections import sqlite_placement
    from baton_shared.service.settings import BatonSettings

    monkeypatch.setattr(sqlite_placement, "ON_LOOP", sqlite_placement.ON_LOOP)
    assert BatonSettings().sqlite_statements == "loop"
    for place, on_loop in (("thread", False), ("auto", None), ("loop", True)):
        monkeypatch.setenv("BATON_SQLITE_STATEMENTS", place)
        sqlite_placement.run_statements(BatonSettings().sqlite_statements)
        assert sqlite_placement.ON_LOOP is on_loop
    monkeypatch.setenv("BATON_SQLITE_STATEMENTS", "elsewhere")
    with pytest.raises(ValidationError, match="sqlite_statements"):
        BatonSettings()
    with pytest.raises(ValueError, match="auto, loop, thread"):
        sqlite_placement.run_statements("elsewhere")
    assert sqlite_placement.ON_LOOP is True


async def test_checkpoints_advance_together_or_not_at_all(database_url):
    """A feed's transaction moves every projection it wrote in one compare-and-set statement:
    all move, or (one was moved meanwhile by another runner) none does and the caller is told."""
    from baton_shared.projections.checkpoints import (
        CheckpointMoved,
        advance_checkpoints,
        ensure_checkpoint,
        metadata as checkpoint_metadata,
        read_checkpoint,
    )

    engine = make_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(checkpoint_metadata.create_all)
            for key in ("a", "b", "c"):
                await ensure_checkpoint(conn, key, "S")
        async with engine.begin() as conn:
            await conn.run_sync(advance_checkpoints, "S", [("a", 0, 5), ("b", 0, 7), ("c", 0, 7)])
        async with engine.connect() as conn:
            assert [await read_checkpoint(conn, k) for k in ("a", "b", "c")] == [5, 7, 7]
        with pytest.raises(CheckpointMoved):
            async with engine.begin() as conn:
                await conn.run_sync(advance_checkpoints, "S", [("a", 5, 9), ("b", 6, 9)])  # b is at 7, not 6
        async with engine.connect() as conn:
            assert [await read_checkpoint(conn, k) for k in ("a", "b")] == [5, 7]
        async with engine.begin() as conn:
            await conn.run_sync(advance_checkpoints, "S", [("b", 7, 8)])
            await conn.run_sync(advance_checkpoints, "S", [("a", 5, 9), ("c", 7, 9)])
        async with engine.connect() as conn:
            assert [await read_checkpoint(conn, k) for k in ("a", "b", "c")] == [9, 8, 9]
    finally:
        await engine.dispose()


async def test_a_write_transaction_upserts_and_loads_rows_on_the_cursor_as_sqlalchemy_would(tmp_path):
    """In a SQLite write transaction, ``upsert`` and ``load_rows`` skip SQLAlchemy's execution
    and store and read exactly what it stores and reads: the same SQL, the types' own
    processors (JSON, zone-aware datetimes, booleans, decimals)."""
    import sqlite3
    from decimal import Decimal

    from sqlalchemy import Boolean, Numeric, event, insert

    from baton_shared.projections.sql import load_rows
    from baton_shared.projections.write_transactions import in_write_transaction

    shapes = MetaData()
    columns = lambda: [  # noqa: E731
        Column("key", String(20), primary_key=True),
        Column("doc", JSON, nullable=True),
        Column("at", DateTime(timezone=True), nullable=True),
        Column("ok", Boolean, nullable=True),
        Column("amount", Numeric(12, 2), nullable=True),
    ]
    direct, through = Table("on_cursor", shapes, *columns()), Table("through_sqlalchemy", shapes, *columns())
    rows = [
        {"key": "a", "doc": {"x": [1, "é"]}, "at": AT, "ok": True, "amount": Decimal("12.50")},
        {"key": "b", "doc": None, "at": None, "ok": False, "amount": None},
    ]
    path = tmp_path / "cursor.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    executed = []
    event.listen(engine.sync_engine, "before_cursor_execute", lambda *args: executed.append(args[2]))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(shapes.create_all)
            await conn.execute(insert(through), [{**rows[0], "ok": False}, rows[1]])
        executed.clear()

        def write_and_read(conn):  # noqa: ANN001
            upsert(conn, direct, rows, ["key"])
            upsert(conn, direct, [{**rows[0], "ok": False}], ["key"])  # the update half of the upsert
            return load_rows(conn, direct, "key", ["a", "b", "missing"])

        loaded = await in_write_transaction(engine, write_and_read)
        assert executed == []  # nothing went through SQLAlchemy's execution
        async with engine.connect() as conn:
            expected = {r["key"]: dict(r) for r in (await conn.execute(select(through))).mappings()}
            stored = {r["key"]: dict(r) for r in (await conn.execute(select(direct))).mappings()}
        assert loaded == expected == stored
        with sqlite3.connect(path) as db:  # the very values stored, not only what reads back
            raw = db.execute("SELECT * FROM on_cursor ORDER BY key").fetchall()
            assert raw == db.execute("SELECT * FROM through_sqlalchemy ORDER BY key").fetchall()
    finally:
        await engine.dispose()
