"""The SQL helpers projections share, on SQLite and PostgreSQL."""

from datetime import datetime, timezone

import pytest
from sqlalchemy import JSON, BigInteger, Column, DateTime, MetaData, String, Table, select

from baton_shared.projections.sql import existing_keys, insert_new, make_engine, upsert

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


async def test_insert_new_keeps_existing_rows_and_adds_the_rest(engine):
    async with engine.begin() as conn:
        await insert_new(conn, rows_table, [{"key": "a", "n": 1, "at": AT, "doc": {"x": [1, 2]}}], ["key"])
    # A key that exists already (a collision the COPY path must survive) and a new one.
    async with engine.begin() as conn:
        await insert_new(
            conn,
            rows_table,
            [{"key": "a", "n": 99, "at": AT, "doc": {}}, {"key": "b", "n": 2, "at": AT, "doc": {"y": None}}],
            ["key"],
        )
    got = await all_rows(engine)
    assert [(r["key"], r["n"], r["doc"]) for r in got] == [("a", 1, {"x": [1, 2]}), ("b", 2, {"y": None})]


async def test_upsert_updates_or_keeps(engine):
    async with engine.begin() as conn:
        await upsert(conn, rows_table, [{"key": "a", "n": 1, "at": AT, "doc": {}}], ["key"])
        await upsert(conn, rows_table, [{"key": "a", "n": 2, "at": AT, "doc": {"v": 2}}], ["key"])
        await upsert(conn, rows_table, [{"key": "a", "n": 3, "at": AT, "doc": {}}], ["key"], update=False)
    assert [(r["n"], r["doc"]) for r in await all_rows(engine)] == [(2, {"v": 2})]


def test_existing_keys_skips_aggregates_born_in_the_batch():
    class Born:
        pass

    class Changed:
        pass

    def recorded(aggregate_id, event):
        return type("R", (), {"envelope": type("E", (), {"aggregate_id": aggregate_id})(), "event": event})()

    events = [recorded("new", Born()), recorded("new", Changed()), recorded("old", Changed()), recorded("old", Changed())]
    assert existing_keys(events, Born) == ["old"]


async def test_sqlite_statements_run_in_one_thread_hop_and_keep_what_sqlalchemy_reads(tmp_path):
    """baton_shared.projections.sqlite_driver: rows, rowcount, lastrowid, errors and
    rollbacks as with the stock aiosqlite cursor, one call into the connection's thread."""
    from sqlalchemy import Integer, insert, text, update
    from sqlalchemy.exc import IntegrityError

    from baton_shared.projections import sqlite_driver

    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'one-hop.sqlite3'}")
    counted = Table("counted", MetaData(), Column("id", Integer, primary_key=True), Column("v", String(10)))
    try:
        async with engine.begin() as conn:
            await conn.run_sync(counted.metadata.create_all)
            assert (await conn.get_raw_connection()).dbapi_connection._cursor_cls is sqlite_driver.OneHopCursor
            assert (await conn.execute(insert(counted), [{"id": i, "v": "a"} for i in range(1, 51)])).rowcount == 50
            assert (await conn.execute(insert(counted).values(id=99, v="b"))).inserted_primary_key == (99,)
            assert (await conn.execute(update(counted).where(counted.c.id <= 10).values(v="c"))).rowcount == 10
            assert (await conn.execute(select(counted.c.v).where(counted.c.id.in_([1, 11, 99])).order_by(counted.c.id))).scalars().all() == ["c", "a", "b"]
        with pytest.raises(IntegrityError):
            async with engine.begin() as conn:
                await conn.execute(insert(counted).values(id=100, v="d"))
                await conn.execute(insert(counted).values(id=1, v="dup"))
        async with engine.connect() as conn:  # the failed transaction left nothing
            assert await conn.scalar(text("SELECT count(*) FROM counted")) == 51
    finally:
        await engine.dispose()
