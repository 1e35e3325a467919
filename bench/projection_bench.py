"""Projection figures: catch-up and rebuild of the benchmark stream, the bulk-insert
ceiling of the same rows, and live lag at a fixed event rate."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from baton_shared.contracts import registry
from baton_shared.eventstore.provisioning import js_api, provision_stream
from baton_shared.projections import ProjectionRunner
from baton_shared.projections.feed import ProjectionFeed
from baton_shared.projections.rebuild import ProjectionRebuild
from baton_shared.projections.sql import make_engine

from common import SPEC, as_the_ops_tool, fresh_postgres, latency_summary

CATCH_UP_BATCH = 5000


async def catch_up(
    nc, url: str, projection_cls, end: int, *, synchronous_commit: bool = False, rebuild: bool = True, parts: int = 1
) -> dict:
    """Fold the stream into fresh tables (ProjectionRunner.catch_up), then rebuild them
    beside the live ones and swap (ProjectionRebuild), as ``baton projections rebuild`` does.

    ``parts``: processes the rebuild folds in, as ``baton projections rebuild --parts``.
    ``synchronous_commit``: every commit waits for its WAL flush, as the eventsourcing library's
    do (Baton's projections commit with ``synchronous_commit = off``: see ``write_transaction``)."""
    engine = make_engine(url)
    if synchronous_commit:
        _commit_synchronously(engine)
    try:
        runner = ProjectionRunner(projection_cls(), engine, SPEC, registry, service="bench")
        await runner.setup()
        t = time.perf_counter()
        applied = await runner.catch_up(nc, until=end, batch_size=CATCH_UP_BATCH)
        catch_up_s = time.perf_counter() - t
        assert runner.position == end, (runner.position, end)
        if not rebuild:
            return {
                "catch_up_events_per_s": applied / catch_up_s,
                "events": applied,
                "events_per_transaction": min(CATCH_UP_BATCH, applied),
                "synchronous_commit": synchronous_commit,
            }

        await settle(engine)
        rebuild = ProjectionRebuild("bench", projection_cls, engine, SPEC, registry)
        with as_the_ops_tool():  # ``baton projections rebuild``; the catch-up above is a service's
            t = time.perf_counter()
            rebuilt = await rebuild.build(nc, until=end, parts=parts)
            build_s = time.perf_counter() - t
            t = time.perf_counter()
            verification = await rebuild.swap(nc)
            swap_s = time.perf_counter() - t
        assert verification.keys_agree
        return {
            "catch_up_events_per_s": applied / catch_up_s,
            "rebuild_events_per_s": rebuilt / (build_s + swap_s),
            "rebuild_build_events_per_s": rebuilt / build_s,
            "rebuild_swap_s": swap_s,
            "rebuild_parts": parts if rebuild.splits() else 1,
            "events": applied,
        }
    finally:
        await engine.dispose()


def _commit_synchronously(engine) -> None:  # noqa: ANN001
    """Turn the projections' ``SET LOCAL synchronous_commit = off`` into ``on`` on this engine."""
    from sqlalchemy import event

    @event.listens_for(engine.sync_engine, "before_cursor_execute", retval=True)
    def _synchronous(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ANN202
        if statement.startswith("SET LOCAL synchronous_commit"):
            statement = "SET LOCAL synchronous_commit = on"
        return statement, parameters


async def settle(engine) -> None:  # noqa: ANN001
    """Between two timed phases on PostgreSQL: write out the last phase's dirty pages and
    vacuum what it left, so the next phase does not pay for the previous one (a rebuild
    right after a bulk catch-up measured ~20 % slower than one on a settled database)."""
    if engine.dialect.name != "postgresql":
        return
    from sqlalchemy import text

    async with engine.connect() as conn:
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.execute(text("VACUUM ANALYZE"))
        await conn.execute(text("CHECKPOINT"))


async def copy_ceiling(url: str, projection_cls, events: int) -> dict:
    """PostgreSQL's bulk insert of the rows the projection holds (read back from its
    live tables), with COPY, one transaction per 5,000 events' worth of rows."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    table = projection_cls().metadata.sorted_tables[0]
    ceiling = projection_cls("__ceiling")
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(ceiling.metadata.drop_all)
            await conn.run_sync(ceiling.metadata.create_all)
    finally:
        await engine.dispose()
    target = ceiling.metadata.sorted_tables[0].name
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database
    )
    try:
        columns = [c.name for c in table.columns]
        rows = [tuple(r) for r in await conn.fetch(f'SELECT {", ".join(columns)} FROM "{table.name}"')]
        chunk = max(1, round(len(rows) * CATCH_UP_BATCH / max(events, 1)))
        t = time.perf_counter()
        for start in range(0, len(rows), chunk):
            async with conn.transaction():
                await conn.copy_records_to_table(target, records=rows[start : start + chunk], columns=columns)
        elapsed = time.perf_counter() - t
        await conn.execute(f'DROP TABLE "{target}"')
    finally:
        await conn.close()
    return {"rows": len(rows), "rows_per_s": len(rows) / elapsed, "events_equivalent_per_s": events / elapsed}


# --- live lag ---------------------------------------------------------------


def _timed(feed: ProjectionFeed, lags: dict[str, list[float]], phases: dict[str, list[float]]) -> None:
    """Record, for every event a batch applies, commit time minus the time the log stored it
    (per projection: each one's events are committed in the feed's one transaction); and where
    that time went: ``phases["stored_to_apply"]`` the apply's start minus the time stored, per
    event, ``phases["apply_and_commit"]`` the apply and commit, per batch."""
    original = feed.apply

    async def apply(raws, *heard):  # noqa: ANN001, ANN002, ANN202
        before = {m.key: m.position for m in feed.members}
        start = time.time_ns()
        phases["stored_to_apply"].extend((start - raw.timestamp_ns) / 1e6 for raw in raws)
        await original(raws, *heard)
        now = time.time_ns()
        phases["apply_and_commit"].append((now - start) / 1e6)
        for member in feed.members:
            for raw in raws:
                if before[member.key] < raw.seq <= member.position:
                    lags[member.projection.name].append((now - raw.timestamp_ns) / 1e6)

    feed.apply = apply  # type: ignore[method-assign]


async def live_lag(
    nc,
    url: str,
    rate: float,
    seconds: float,
    projections: list,
    service: str,
    beside: bool = False,
    parts: int | None = None,
) -> dict:
    """Intake's own projections live (one durable pull loop feeding them, as in the service) while another
    process appends events at ``rate`` per second through Baton's event store; lag =
    committed (rows and checkpoint) minus stored in the log (the message's JetStream time).
    ``beside``: a third process rebuilds a projection of the same stream into the same
    database all the while (``rebuild_beside.py``), in ``parts`` processes (None: as many as the
    tool would take then)."""
    import json
    import subprocess
    import sys

    await provision_stream(nc, SPEC)
    engine = make_engine(url)
    lags: dict[str, list[float]] = {p.name: [] for p in projections}
    phases: dict[str, list[float]] = {"stored_to_apply": [], "apply_and_commit": []}
    runners = []
    feed = None
    try:
        for projection in projections:
            runner = ProjectionRunner(projection, engine, SPEC, registry, service=service)
            await runner.setup()
            runners.append(runner)
        feed = ProjectionFeed(runners, service=service)  # one consumer for them all, as in the service
        await feed.catch_up(nc)
        await feed.prepare_live(nc)
        _timed(feed, lags, phases)
        await feed.start_live(nc)
        first = (await js_api(nc, f"STREAM.INFO.{SPEC.name}"))["state"]["last_seq"]
        cpu_at_start = time.process_time()  # this process is the live side: the feed and its projections
        url_nats = nc.connected_url.geturl()
        publisher = await asyncio.create_subprocess_exec(
            sys.executable,
            str(Path(__file__).parent / "publish.py"),
            url_nats,
            str(rate),
            str(seconds),
            stdout=subprocess.PIPE,
        )
        rebuilding = None
        if beside:  # started under the live load, as an operator's would be
            rebuilding = await asyncio.create_subprocess_exec(
                sys.executable,
                str(Path(__file__).parent / "rebuild_beside.py"),
                url_nats,
                url,
                str(seconds),
                *([] if parts is None else [str(parts)]),
                stdout=subprocess.PIPE,
            )
        out, _ = await publisher.communicate()
        published = json.loads(out.decode().strip().splitlines()[-1])
        rebuilt = None
        if rebuilding is not None:
            done, _ = await rebuilding.communicate()
            rebuilt = json.loads(done.decode().strip().splitlines()[-1])
        head = (await js_api(nc, f"STREAM.INFO.{SPEC.name}"))["state"]["last_seq"]
        deadline = time.monotonic() + 60
        while any(r.position < head for r in runners) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        cpu_per_event_us = (time.process_time() - cpu_at_start) / max(head - first, 1) * 1e6
    finally:
        if feed is not None:
            await feed.stop_live()
        await engine.dispose()
    every = [x for v in lags.values() for x in v]
    return {
        "rate_target": rate,
        "rate_achieved": published["rate_achieved"],
        "append_errors": published["errors"],
        "source": "a separate process appending through the event store",
        "beside": rebuilt,
        "live_cpu_us_per_event": round(cpu_per_event_us, 1),
        "all": latency_summary(every),
        "by_projection": {k: latency_summary(v) for k, v in lags.items()},
        **{phase: latency_summary(ms) for phase, ms in phases.items()},
    }


async def run_live_lag(
    nats_url: str,
    db_urls: dict[str, str],
    rate: float,
    seconds: float,
    workdir: Path,
    beside: bool = False,
    parts: int | None = None,
) -> dict:
    import nats as nats_py

    from baton_intake.projections import all_projections
    from baton_shared.projections import sqlite_placement
    from baton_shared.service.settings import BatonSettings

    sqlite_placement.run_statements(BatonSettings().sqlite_statements)  # as a service would (BATON_SQLITE_STATEMENTS)
    out = {}
    for name, url in db_urls.items():
        if name == "postgresql":
            await fresh_postgres(url)
        nc = await nats_py.connect(nats_url)
        try:
            # its own consumers per target; what an earlier target appended is caught up untimed
            service = f"live{name}{'beside' if beside else ''}"
            out[name] = await live_lag(nc, url, rate, seconds, all_projections(), service, beside, parts)
        finally:
            await nc.close()
    return out
