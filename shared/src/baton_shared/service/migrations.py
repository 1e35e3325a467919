"""Each service's database schema, through Alembic: one migration history per service.

A service ships its migrations in its own package, ``baton_<service>/migrations``
(``env.py`` naming the projections whose tables it owns, ``versions/``), so the
history travels with the code that reads the tables. The history is recorded in
``baton_schema_<service>`` (not Alembic's default table), so two services pointed
at one database by mistake do not trample each other's history.

Two ways to apply it:

- ``python -m baton_<service> migrate`` (what docker compose runs as a one-shot
  step before the service starts; ``--check`` only reports, exit 1 if behind). It
  first waits, up to ``--wait`` seconds, for a database that does not answer yet:
  on fresh volumes the postgres image runs its init step on a server that does not
  listen on TCP, and a step that gave up at the first refused connect would leave
  its service never started;
- at start-up when ``BATON_MIGRATE_ON_START`` is true (the default: the embedded
  run and the tests start on empty SQLite files and PostgreSQL schemas). With it
  false (compose), a service whose database is not at the code's head refuses
  to start and says which command fixes it.

On PostgreSQL an upgrade holds a transaction-scoped advisory lock, so replicas
starting together migrate one after the other (the second finds nothing to do).
A database created before migrations existed (tables made by ``create_all``,
no history) is stamped at the first revision, which is that schema, and then
upgraded.

What stays outside migrations: the tables a rebuild builds beside the live ones
(``<table>__rebuild``, ``<table>__at_<seq>``) are created and dropped by the
rebuild itself; autogenerate ignores them.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import time
from collections.abc import Iterable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import MetaData, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.projections.base import Projection
from baton_shared.projections.checkpoints import checkpoint_columns, parked_event_columns
from baton_shared.projections.checkpoints import metadata as checkpoint_metadata
from baton_shared.retry import is_transient
from baton_shared.observability.logging import configure_logging, get_logger

log = get_logger("baton.migrations")

DYNAMIC_TABLE_MARKERS = ("__rebuild", "__at_")
DEFAULT_WAIT_SECONDS = 60.0


class DatabaseNotReady(RuntimeError):
    """The database did not answer within the time the migrate step may wait for it."""


class SchemaNotCurrent(RuntimeError):
    """The database is not at the revision this code needs, and start-up may not migrate it."""


def version_table(service: str) -> str:
    return f"baton_schema_{service}"


def migrations_dir(service: str) -> Path | None:
    """Where ``baton_<service>/migrations`` lives, or None if the service has none yet."""
    spec = importlib.util.find_spec(f"baton_{service}")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"no package baton_{service}: unknown service {service!r}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "migrations"
    return folder if (folder / "env.py").exists() else None


def alembic_config(service: str, connection: Connection | None = None, url: str | None = None) -> Config:
    folder = migrations_dir(service)
    if folder is None:
        raise ValueError(f"{service} has no migrations (baton_{service}/migrations/env.py is missing)")
    cfg = Config()
    cfg.set_main_option("script_location", str(folder))
    cfg.set_main_option("baton_service", service)
    if url:
        cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["connection"] = connection
    return cfg


def schema_of(projections: Iterable[Projection]) -> MetaData:
    """Every table a service's runners create: checkpoints, parked events, its projections'."""
    combined = MetaData()
    for table in checkpoint_metadata.sorted_tables:
        table.to_metadata(combined)
    for projection in projections:
        for table in projection.metadata.sorted_tables:
            table.to_metadata(combined)
    return combined


def create_checkpoint_tables() -> None:
    """In a service's first migration: the checkpoint and parked-event tables, made from the
    columns the runners use (``if_not_exists``: a database made by ``create_all`` has them).
    A change to those columns needs a new revision in every service, not an edit here."""
    from alembic import op

    op.create_table("baton_checkpoints", *checkpoint_columns(), if_not_exists=True)
    op.create_table("baton_parked_events", *parked_event_columns(), if_not_exists=True)


def create_own_events_table() -> None:
    """The migration that adds a service's ``own_events`` (its lane of a client's journey, the
    same table in every service); skipped where ``create_all`` already made it."""
    import sqlalchemy as sa
    from alembic import op

    if sa.inspect(op.get_bind()).has_table("own_events"):
        return
    op.create_table(
        "own_events",
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("stream", sa.String(length=64), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=64), nullable=False),
        sa.Column("event_type", sa.String(length=100), nullable=False),
        sa.Column("aggregate_type", sa.String(length=50), nullable=False),
        sa.Column("aggregate_id", sa.String(length=64), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=False),
        sa.Column("causation_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("own_events", schema=None) as batch_op:
        batch_op.create_index("ix_own_events_client", ["client_id", "occurred_at", "seq"], unique=False)
        batch_op.create_index("ix_own_events_correlation", ["correlation_id", "occurred_at", "seq"], unique=False)


def drop_own_events_table() -> None:
    from alembic import op

    with op.batch_alter_table("own_events", schema=None) as batch_op:
        batch_op.drop_index("ix_own_events_correlation")
        batch_op.drop_index("ix_own_events_client")
    op.drop_table("own_events")


def drop_checkpoint_tables() -> None:
    """The first migration's downgrade: drop what :func:`create_checkpoint_tables` made."""
    from alembic import op

    op.drop_table("baton_parked_events", if_exists=True)
    op.drop_table("baton_checkpoints", if_exists=True)


def is_dynamic(name: str | None) -> bool:
    return bool(name) and any(marker in name for marker in DYNAMIC_TABLE_MARKERS)


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # Alembic's hook signature
    """Autogenerate looks at the live tables only, never at a rebuild's copies."""
    table_name = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
    return not is_dynamic(table_name)


def context_options(service: str, connection: Connection, metadata: MetaData) -> dict:
    return {
        "connection": connection,
        "target_metadata": metadata,
        "version_table": version_table(service),
        "compare_type": True,
        "include_object": include_object,
        "render_as_batch": connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
    }


def run_env(metadata: MetaData) -> None:
    """The body of every service's ``migrations/env.py`` (online mode only)."""
    from alembic import context

    config = context.config
    service = config.get_main_option("baton_service")
    if context.is_offline_mode():
        raise SystemExit("Baton's migrations run against a database; offline (--sql) mode is not supported")
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(**context_options(service, connection, metadata))
        with context.begin_transaction():
            context.run_migrations()
        return
    # Run by the alembic command line: connect with the configured async URL.
    from baton_shared.projections.sql import make_engine

    async def run() -> None:
        engine = make_engine(config.get_main_option("sqlalchemy.url"))
        try:
            async with engine.begin() as conn:
                await conn.run_sync(_run_in, service, metadata)
        finally:
            await engine.dispose()

    def _run_in(conn: Connection, service: str, metadata: MetaData) -> None:
        context.configure(**context_options(service, conn, metadata))
        with context.begin_transaction():
            context.run_migrations()

    asyncio.run(run())


# --- applying and checking ---------------------------------------------------


def head_revision(service: str) -> str:
    heads = ScriptDirectory.from_config(alembic_config(service)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"{service}'s migrations have {len(heads)} heads ({heads}); merge them")
    return heads[0]


def _current(conn: Connection, service: str) -> str | None:
    return MigrationContext.configure(conn, opts={"version_table": version_table(service)}).get_current_revision()


def _predates_migrations(conn: Connection, service: str) -> bool:
    """Tables of this service exist but no migration history: made by ``create_all``."""
    names = set(inspect(conn).get_table_names())
    if version_table(service) in names:
        return False
    env_tables = _schema_tables(service)
    return bool(names & env_tables)


def _schema_tables(service: str) -> set[str]:
    """The service's own tables (not the shared baton_* ones) in its first revision."""
    script = ScriptDirectory.from_config(alembic_config(service))
    base = script.get_revision(script.get_bases()[0])
    return set(getattr(base.module, "TABLES", ()))


def _upgrade(conn: Connection, service: str) -> tuple[str | None, str]:
    if conn.dialect.name == "postgresql":
        # Replicas starting at once migrate one after the other; held to the commit.
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"baton-migrate-{service}"})
    before = _current(conn, service)
    if before is None and _predates_migrations(conn, service):
        script = ScriptDirectory.from_config(alembic_config(service))
        base = script.get_bases()[0]
        log.warning("database predates migrations; stamping its first revision", service=service, revision=base)
        command.stamp(alembic_config(service, conn), base)
        before = base
    command.upgrade(alembic_config(service, conn), "head")
    return before, _current(conn, service) or ""


async def upgrade(service: str, engine: AsyncEngine) -> tuple[str | None, str]:
    """Bring the database to the code's head; returns (revision before, revision now)."""
    async with engine.begin() as conn:
        before, after = await conn.run_sync(_upgrade, service)
    if before != after:
        log.info("database migrated", service=service, before=before, after=after)
    return before, after


async def current(service: str, engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        return await conn.run_sync(_current, service)


async def check_at_head(service: str, engine: AsyncEngine) -> None:
    have, want = await current(service, engine), head_revision(service)
    if have != want:
        raise SchemaNotCurrent(
            f"{service}'s database is at schema revision {have or 'none (empty)'}, this code needs {want}: "
            f"run `python -m baton_{service} migrate` (or set BATON_MIGRATE_ON_START=true)"
        )


async def prepare_schema(service: str, engine: AsyncEngine, *, migrate: bool) -> None:
    """At start-up: migrate to head, or check that the database is there already."""
    if migrations_dir(service) is None:
        log.warning("service has no migrations yet; its runners create their tables", service=service)
        return
    if migrate:
        await upgrade(service, engine)
    else:
        await check_at_head(service, engine)


async def wait_for_database(engine: AsyncEngine, within: float, *, on_wait=None) -> None:
    """Return once the database answers a query; wait out outages (refused, starting up) for
    ``within`` seconds, then raise :class:`DatabaseNotReady`. A database that answers with an
    error (unknown database, wrong password) is not waited for: that error is raised at once."""
    deadline = time.monotonic() + within
    delay, waited = 0.25, False
    while True:
        left = deadline - time.monotonic()
        try:
            async with asyncio.timeout(max(left, 1.0)):
                async with engine.connect() as conn:
                    await conn.execute(text("SELECT 1"))
            return
        except Exception as exc:  # sorted just below: outages are waited out, the rest raised
            if not is_transient(exc):
                raise
            left = deadline - time.monotonic()
            if left <= 0:
                raise DatabaseNotReady(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc
            if not waited and on_wait is not None:
                on_wait(exc, within)
            waited = True
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, 2.0)


# --- `python -m baton_<service> migrate` ---------------------------------------


def migrate_main(service: str, argv: list[str]) -> int:
    """The one-shot migrate step: exit 0 at head, 1 when the check fails or it cannot migrate."""
    from baton_shared.projections.sql import make_engine
    from baton_shared.service.settings import settings_or_exit

    parser = argparse.ArgumentParser(
        prog=f"python -m baton_{service} migrate",
        description=f"Bring {service}'s database (BATON_DATABASE_URL) to the schema this code needs.",
    )
    parser.add_argument("--check", action="store_true", help="only check; exit 1 if the database is not at head")
    parser.add_argument(
        "--wait",
        type=float,
        default=DEFAULT_WAIT_SECONDS,
        metavar="SECONDS",
        help="how long to wait for a database that does not answer yet (refused, starting up); "
        f"default {DEFAULT_WAIT_SECONDS:g}, 0 to try once",
    )
    args = parser.parse_args(argv)
    settings = settings_or_exit(service)
    configure_logging(service, settings.log_level, settings.log_format)
    url = settings.database_url_for(service)
    if migrations_dir(service) is None:
        print(f"{service}: no migrations yet (its tables are created at start-up)")
        return 0

    async def run() -> int:
        engine = make_engine(url)
        where = engine.url.render_as_string(hide_password=True)

        def waiting(exc: Exception, within: float) -> None:
            print(f"{service}: waiting for the database ({where}) to answer, up to {within:g} s: {exc}", flush=True)

        try:
            try:
                await wait_for_database(engine, args.wait, on_wait=waiting)
            except DatabaseNotReady as exc:
                print(
                    f"{service}: the database did not answer within {args.wait:g} s ({where}): {exc}. "
                    "Is PostgreSQL running and reachable at that address? (--wait SECONDS waits longer)"
                )
                return 1
            if args.check:
                try:
                    await check_at_head(service, engine)
                except SchemaNotCurrent as exc:
                    print(str(exc))
                    return 1
                print(f"{service}: database at head ({head_revision(service)})")
                return 0
            before, after = await upgrade(service, engine)
            print(f"{service}: database at {after}" + ("" if before == after else f" (was {before or 'empty'})"))
            return 0
        except (OSError, DBAPIError) as exc:
            print(f"{service}: cannot migrate the database ({where}): {exc}")
            return 1
        finally:
            await engine.dispose()

    return asyncio.run(run())
