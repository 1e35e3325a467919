"""Each service's Alembic migrations: at head they are exactly the schema its projections define."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from baton_shared.projections.sql import make_engine
from baton_shared.service import migrations
from baton_shared.service.migrations import SchemaNotCurrent, context_options, schema_of
from baton_shared.service.settings import BatonSettings
from sqlalchemy import inspect

from tests.integration.deployed import tcp_relay

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = [s for s in ("intake", "delivery", "followup", "notify") if importlib.util.find_spec(f"baton_{s}.__main__")]


def service_schema(service: str):
    """The tables the running service defines: its composition root's projections (and, for a
    service keeping other state, what its ``migrations.schema()`` adds)."""
    migrations_module = importlib.import_module(f"baton_{service}.migrations")
    if hasattr(migrations_module, "schema"):
        return migrations_module.schema()
    module = __import__(f"baton_{service}.composition", fromlist=["create_app"])
    app = module.create_app(BatonSettings(database_url="sqlite+aiosqlite://", log_level="WARNING"))
    return schema_of(app.state.runtime.parts.projections)


def diff(conn, service: str, metadata) -> list:
    ctx = MigrationContext.configure(conn, opts=context_options(service, conn, metadata))
    return compare_metadata(ctx, metadata)


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_at_head_are_exactly_the_projections_schema(service, engine):
    if migrations.migrations_dir(service) is None:
        pytest.fail(f"{service} runs but has no migrations (baton_{service}/migrations)")
    before, after = await migrations.upgrade(service, engine)
    assert before is None and after == migrations.head_revision(service)
    wanted = service_schema(service)
    async with engine.connect() as conn:
        assert await conn.run_sync(diff, service, wanted) == []
        tables = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    assert tables == set(wanted.tables) | {migrations.version_table(service)}
    # Upgrading again is a no-op.
    assert await migrations.upgrade(service, engine) == (after, after)


@pytest.mark.parametrize("service", SERVICES)
async def test_a_database_made_before_migrations_is_stamped_then_kept(service, engine):
    if migrations.migrations_dir(service) is None:
        pytest.fail(f"{service} has no migrations")
    async with engine.begin() as conn:
        await conn.run_sync(service_schema(service).create_all)  # what the runners did before
    before, after = await migrations.upgrade(service, engine)
    assert before is not None and after == migrations.head_revision(service)
    async with engine.connect() as conn:
        assert await conn.run_sync(diff, service, service_schema(service)) == []


async def test_a_service_refuses_to_start_on_a_database_behind_when_it_may_not_migrate(engine):
    with pytest.raises(SchemaNotCurrent, match=r"python -m baton_intake migrate"):
        await migrations.prepare_schema("intake", engine, migrate=False)
    await migrations.prepare_schema("intake", engine, migrate=True)
    await migrations.prepare_schema("intake", engine, migrate=False)  # at head now: fine


@pytest.mark.postgres
async def test_replicas_migrating_at_once_take_turns(postgres_url):
    from tests.conftest import _fresh_schema

    await _fresh_schema(postgres_url)
    engines = [make_engine(postgres_url) for _ in range(3)]
    try:
        results = await asyncio.gather(*(migrations.upgrade("delivery", e) for e in engines))
    finally:
        for e in engines:
            await e.dispose()
    head = migrations.head_revision("delivery")
    assert sorted(r[0] or "" for r in results) == ["", head, head]  # one migrated, two found it done
    assert all(r[1] == head for r in results)


def test_the_migrate_command_upgrades_then_checks(tmp_path):
    env = {**os.environ, "BATON_DATA_DIR": str(tmp_path), "BATON_LOG_FORMAT": "console"}
    env.pop("BATON_DATABASE_URL", None)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "baton_delivery", *args],
            check=False,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    check = run("migrate", "--check")
    assert check.returncode == 1 and "python -m baton_delivery migrate" in check.stdout
    done = run("migrate")
    assert done.returncode == 0 and "delivery: database at 0002 (was empty)" in done.stdout, done.stdout + done.stderr
    assert run("migrate", "--check").returncode == 0
    bad = run("migrate", "--sideways")
    assert bad.returncode == 2 and "--sideways" in bad.stderr


# --- the one-shot migrate step meets a database that is not up yet (compose, first start) ---


async def _migrate(url: str, *args: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "BATON_DATABASE_URL": url, "BATON_LOG_FORMAT": "console"}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "baton_delivery",
        "migrate",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )


async def _read_until(proc: asyncio.subprocess.Process, wanted: str, timeout: float) -> str:
    """Output up to the line containing ``wanted`` (or all of it, if the process ends first)."""
    seen = ""
    async with asyncio.timeout(timeout):
        while line := (await proc.stdout.readline()).decode():
            seen += line
            if wanted in line:
                break
    return seen


@pytest.mark.postgres
async def test_migrate_waits_for_a_database_that_starts_listening_later(postgres_url):
    from sqlalchemy.engine import make_url

    from tests.conftest import _fresh_schema, free_port

    await _fresh_schema(postgres_url)
    real = make_url(postgres_url)
    port = free_port()  # nothing listens here yet: PostgreSQL still running its init step
    proc = await _migrate(real.set(host="127.0.0.1", port=port).render_as_string(hide_password=False), "--wait", "60")
    relay = None
    try:
        seen = await _read_until(proc, "waiting for the database", 30)
        assert "waiting for the database" in seen, seen  # refused, and it waits instead of exiting 1
        relay = await tcp_relay(port, real.host or "127.0.0.1", real.port or 5432)  # the database appears
        async with asyncio.timeout(60):
            rest = (await proc.stdout.read()).decode()
            code = await proc.wait()
        assert code == 0, seen + rest
        assert "delivery: database at 0002 (was empty)" in rest, seen + rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if relay is not None:
            relay.close()
    engine = make_engine(postgres_url)
    try:
        assert await migrations.current("delivery", engine) == migrations.head_revision("delivery")
    finally:
        await engine.dispose()


async def test_migrate_gives_up_after_its_bound_with_a_clear_message():
    from tests.conftest import free_port

    started = asyncio.get_running_loop().time()
    proc = await _migrate(f"postgresql+asyncpg://delivery:secret@127.0.0.1:{free_port()}/delivery", "--wait", "2")
    async with asyncio.timeout(60):
        out = (await proc.stdout.read()).decode()
        code = await proc.wait()
    took = asyncio.get_running_loop().time() - started
    assert code == 1, out
    assert "delivery: the database did not answer within 2 s" in out, out
    assert "127.0.0.1" in out and "secret" not in out  # where it looked, never the password
    assert took >= 2, took


@pytest.mark.postgres
async def test_migrate_does_not_wait_out_a_database_that_answers_no(postgres_url):
    """A database that is up but refuses (here: it does not exist) is a fault, reported at once."""
    from sqlalchemy.engine import make_url

    url = make_url(postgres_url)
    proc = await _migrate(
        url.set(database=f"{url.database}_nowhere").render_as_string(hide_password=False), "--wait", "120"
    )
    async with asyncio.timeout(60):
        out = (await proc.stdout.read()).decode()
        code = await proc.wait()
    assert code == 1 and "cannot migrate the database" in out and "does not exist" in out, out


async def test_followup_fills_each_profiles_revenue_amount_from_its_text(engine):
    """0013: profiles folded before the amount had a column get it from their text, so a new
    client's rank counts them."""
    from datetime import datetime, timezone

    import sqlalchemy as sa
    from alembic import command

    def to(conn, revision: str) -> None:  # noqa: ANN001
        command.upgrade(migrations.alembic_config("followup", conn), revision)

    before = sa.table(
        "client_profiles",
        *(sa.column(name) for name in ("client_id", "name", "segment", "business_description", "account_manager")),
        sa.column("annual_revenue"),
        sa.column("notes", sa.JSON),
        sa.column("registered_at", sa.DateTime(timezone=True)),
        sa.column("version"),
    )
    at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    async with engine.begin() as conn:
        await conn.run_sync(to, "0012_relationships_narrow")
        for cid, revenue in (("c1", "1500000.50"), ("c2", None), ("c3", "900")):
            await conn.execute(
                sa.insert(before).values(
                    client_id=cid,
                    name="A",
                    segment="B2B",
                    business_description="",
                    account_manager="am",
                    annual_revenue=revenue,
                    notes=[],
                    registered_at=at,
                    version=1,
                )
            )
        await conn.run_sync(to, "0013_profiles_revenue_amount")
        rows = (await conn.execute(sa.text("SELECT client_id, revenue_amount FROM client_profiles ORDER BY 1"))).all()
        assert [(c, None if a is None else float(a)) for c, a in rows] == [
            ("c1", 1500000.5),
            ("c2", None),
            ("c3", 900.0),
        ]
        # 0014: the ranks have their own read model; the profiles keep their text, not the number.
        await conn.run_sync(to, "head")
        columns = await conn.run_sync(lambda c: {col["name"] for col in sa.inspect(c).get_columns("client_profiles")})
        kept = (await conn.execute(sa.text("SELECT client_id, annual_revenue FROM client_profiles ORDER BY 1"))).all()
        bands = (await conn.execute(sa.text("SELECT count(*) FROM revenue_bands"))).scalar()
    assert "revenue_amount" not in columns and "annual_revenue" in columns
    assert [tuple(r) for r in kept] == [("c1", "1500000.50"), ("c2", None), ("c3", "900")]
    assert bands == 0, "filled by folding intake's stream on the first start, not by the migration"
