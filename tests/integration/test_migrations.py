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
from sqlalchemy import inspect

from baton_shared.projections.sql import make_engine
from baton_shared.service import migrations
from baton_shared.service.migrations import SchemaNotCurrent, context_options, schema_of
from baton_shared.service.settings import BatonSettings

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = [s for s in ("intake", "delivery", "followup") if importlib.util.find_spec(f"baton_{s}.__main__")]


def service_schema(service: str):
    """The tables the running service defines: its composition root's projections."""
    module = __import__(f"baton_{service}.composition", fromlist=["create_app"])
    app = module.create_app(BatonSettings(database_url="sqlite+aiosqlite://", log_level="WARNING"))
    return schema_of(app.state.runtime._projections)  # noqa: SLF001 - what the service really runs


def diff(conn, service: str, metadata) -> list:
    ctx = MigrationContext.configure(conn, opts=context_options(service, conn, metadata))
    return compare_metadata(ctx, metadata)


@pytest.mark.parametrize("service", SERVICES)
async def test_migrations_at_head_are_exactly_the_projections_schema(service, engine):
    if migrations.migrations_dir(service) is None:
        pytest.fail(f"{service} runs but has no migrations (baton_{service}/migrations)")
    before, after = await migrations.upgrade(service, engine)
    assert before is None and after == migrations._head(service)
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
    assert before is not None and after == migrations._head(service)
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
    head = migrations._head("delivery")
    assert sorted(r[0] or "" for r in results) == ["", head, head]  # one migrated, two found it done
    assert all(r[1] == head for r in results)


def test_the_migrate_command_upgrades_then_checks(tmp_path):
    env = {**os.environ, "BATON_DATA_DIR": str(tmp_path), "BATON_LOG_FORMAT": "console"}
    env.pop("BATON_DATABASE_URL", None)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "baton_delivery", *args], env=env, capture_output=True, text=True, timeout=60
        )

    check = run("migrate", "--check")
    assert check.returncode == 1 and "python -m baton_delivery migrate" in check.stdout
    done = run("migrate")
    assert done.returncode == 0 and "delivery: database at 0001 (was empty)" in done.stdout, done.stdout + done.stderr
    assert run("migrate", "--check").returncode == 0
    bad = run("migrate", "--sideways")
    assert bad.returncode == 2 and "--sideways" in bad.stderr
