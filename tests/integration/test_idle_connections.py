"""Pooled PostgreSQL connections are pinged before use only after they sat idle
(``projections.sql.ping_after_idle``): a connection whose server process went away while it
idled (a restart, a terminated backend) is replaced before a read meets it; one taken again
at once is not pinged, and meets it once, as during an outage itself."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import exc, text
from sqlalchemy.engine import make_url

from baton_shared.projections import sql

pytestmark = [pytest.mark.postgres]


async def end_every_other_connection(url: str) -> int:
    """Terminate every server process of the database but this one (as a restart would)."""
    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, database=u.database)
    try:
        return len(
            await conn.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        )
    finally:
        await conn.close()


async def server_pid(engine) -> int:  # noqa: ANN001
    async with engine.connect() as conn:
        return await conn.scalar(text("SELECT pg_backend_pid()"))


@pytest.mark.parametrize("idle_before_ping", [0.05, 3600.0], ids=["pinged-after-idle", "never-pinged"])
async def test_a_connection_gone_while_idle_is_replaced_before_a_read_meets_it(
    postgres_url, monkeypatch, idle_before_ping
):
    monkeypatch.setattr(sql, "IDLE_BEFORE_PING_SECONDS", idle_before_ping)
    engine = sql.make_engine(postgres_url)
    try:
        first = await server_pid(engine)
        assert await end_every_other_connection(postgres_url) >= 1
        await asyncio.sleep(0.2)  # idle longer than 0.05 s (a deadline is not what is tested here)
        if idle_before_ping < 1:
            assert await server_pid(engine) != first, "the read ran on a new connection"
        else:
            # Without the ping the read meets the dead connection: the behaviour the ping avoids.
            with pytest.raises(exc.DBAPIError) as failed:
                await server_pid(engine)
            assert failed.value.connection_invalidated
            assert await server_pid(engine) != first, "the pool was renewed after the failure"
    finally:
        await engine.dispose()


@pytest.mark.parametrize(("idle_before_ping", "pings"), [(3600.0, 0), (0.0, 19)], ids=["taken-at-once", "always"])
async def test_a_connection_taken_again_at_once_is_not_pinged(postgres_url, monkeypatch, idle_before_ping, pings):
    monkeypatch.setattr(sql, "IDLE_BEFORE_PING_SECONDS", idle_before_ping)
    engine = sql.make_engine(postgres_url)
    dialect = engine.sync_engine.dialect
    pinged: list[object] = []
    real_ping = dialect.do_ping

    def counted_ping(dbapi_connection) -> bool:  # noqa: ANN001
        pinged.append(dbapi_connection)
        return real_ping(dbapi_connection)

    monkeypatch.setattr(dialect, "do_ping", counted_ping)
    try:
        pids = {await server_pid(engine) for _ in range(20)}
        assert len(pids) == 1, "last in, first out: the same connection each time"
        assert len(pinged) == pings
    finally:
        await engine.dispose()
