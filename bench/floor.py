"""What a write command and a handoff cost in the libraries alone, beside what they cost in Baton.

    .venv/bin/python bench/floor.py [--baton] [--parts [--postgresql URL]] [--rate 200] [--seconds 15]

The floor is ``handoff_skeleton.py``: the messages of a handoff (2 requests, 2 appends, 7
deliveries, 5 transactions across four service processes and nats-server) with uvicorn, nats-py
and sqlite3 and nothing of Baton's: no envelope, access rule, idempotency, aggregate, metrics or
log line. It is driven as ``http_bench.handoff_e2e`` drives Baton, and its intake alone as
``bench/run.py --only writes`` drives Baton's intake (16 connections, closed loop). ``--baton``
measures Baton's embedded run the same way in the same sitting, so the two figures share a host
and a calibration; the ratio is what travels between hosts. ``--parts`` adds each part alone
(``floor_parts.py``): FastAPI beside a bare ASGI app, SQLAlchemy beside sqlite3, a delivery one
at a time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import calibration
import floor_parts
import handoff_skeleton
from common import cpu_seconds, free_port, start_nats, stop_process
from loadgen import Connection, closed_loop


@contextlib.asynccontextmanager
async def skeleton(url: str, folder: Path, roles: tuple[str, ...]):  # noqa: ANN201
    """The roles running, each a process; yields their pids and HTTP ports."""
    import nats

    nc = await nats.connect(url)
    with contextlib.suppress(Exception):
        await handoff_skeleton.streams(nc)
    await nc.close()
    ports = {name: free_port() for name in roles}
    script = str(Path(handoff_skeleton.__file__))
    procs = {
        name: subprocess.Popen([sys.executable, script, name, url, str(ports[name]), str(folder)]) for name in roles
    }
    try:
        probe = Connection("127.0.0.1", ports["intake"])
        deadline = time.monotonic() + 30
        while True:  # up when intake answers
            try:
                status, _ = await probe.request("POST", f"/v1/requests/up-{time.monotonic_ns()}/handoffs", {"work": []})
                if status != 201:
                    raise RuntimeError(f"the skeleton's intake answered {status}")
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.1)
        probe.close()
        yield {name: p.pid for name, p in procs.items()}, ports
    finally:
        for proc in procs.values():
            proc.send_signal(signal.SIGTERM)
        for proc in procs.values():
            stop_process(proc)


async def skeleton_writes(url: str, server_pid: int, folder: Path, seconds: float) -> dict[str, float]:
    """Intake's role alone under writes (an append and its fold each): CPU per write, ms."""
    async with skeleton(url, folder, ("intake",)) as (pids, ports):
        ids = iter(range(10**9))

        async def script(_i: int, call) -> None:  # noqa: ANN001
            await call("POST", f"/v1/requests/w-{next(ids)}/handoffs", {"work": []}, 201)

        target = f"http://127.0.0.1:{ports['intake']}"
        await closed_loop(target, 16, 2, script, warmup=0)
        pids = {**pids, "nats-server": server_pid}
        before = {k: cpu_seconds(p) for k, p in pids.items()}
        done = await closed_loop(target, 16, seconds, script, warmup=0)
        await asyncio.sleep(0.3)  # the acknowledgements deferred 0.25 s
        n = len(done["latencies"])
        return {"writes_per_s": n / seconds, **{k: 1000 * (cpu_seconds(p) - before[k]) / n for k, p in pids.items()}}


async def skeleton_handoffs(url: str, server_pid: int, folder: Path, rate: float, seconds: float) -> dict[str, float]:
    """All four roles under handoffs at ``rate``, driven as ``http_bench.handoff_e2e`` drives
    Baton's: POST to intake, wait for the work order's event, GET it from delivery (which waits
    until its projection has it). CPU per handoff per process, ms."""
    import nats
    from nats.js.api import ConsumerConfig, DeliverPolicy

    async with skeleton(url, folder, handoff_skeleton.ROLES) as (pids, ports):
        nc = await nats.connect(url)
        pool: asyncio.Queue[Connection] = asyncio.Queue()  # first in, first out, as http_bench's: every
        dpool: asyncio.Queue[Connection] = asyncio.Queue()  # connection stays in use, none idles out
        for _ in range(64):
            pool.put_nowait(Connection("127.0.0.1", ports["intake"]))
            dpool.put_nowait(Connection("127.0.0.1", ports["delivery"]))
        opened: dict[str, asyncio.Future] = {}
        failures = []

        async def on_opened(msg) -> None:  # noqa: ANN001
            future = opened.get(msg.subject.split(".")[2])
            if future is not None and not future.done():
                future.set_result(None)

        async def one(request_id: str) -> None:
            opened[request_id] = asyncio.get_running_loop().create_future()
            conn = await pool.get()
            try:
                body = {"work": [{"department": "design", "scope": "bench", "due_by": "2027-01-15"}]}
                status, _ = await conn.request("POST", f"/v1/requests/{request_id}/handoffs", body)
            finally:
                pool.put_nowait(conn)
            await asyncio.wait_for(opened[request_id], 30)
            conn = await dpool.get()
            try:
                got, _ = await conn.request("GET", f"/v1/work-orders/{request_id}")
            finally:
                dpool.put_nowait(conn)
            if status != 201 or got != 200:
                failures.append((status, got))

        async def schedule(count: int, tag: str) -> None:
            start, tasks = time.perf_counter(), []
            for k in range(count):
                await asyncio.sleep(max(0.0, start + k / rate - time.perf_counter()))
                tasks.append(asyncio.create_task(one(f"{tag}{k}")))
            await asyncio.gather(*tasks)

        try:
            await nc.jetstream().subscribe(
                "delivery.request.*.WorkOrderOpened",
                cb=on_opened,
                ordered_consumer=True,
                stream="DELIVERY",
                config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
            )
            await schedule(int(rate), "warm-")
            await asyncio.sleep(0.5)
            pids = {**pids, "nats-server": server_pid}
            before = {name: cpu_seconds(pid) for name, pid in pids.items()}
            count = int(rate * seconds)
            await schedule(count, "h-")
            await asyncio.sleep(0.3)  # the acknowledgements deferred 0.25 s
            if failures:
                raise RuntimeError(f"{len(failures)} handoffs failed, e.g. {failures[0]}")
            return {name: 1000 * (cpu_seconds(pid) - before[name]) / count for name, pid in pids.items()}
        finally:
            for queue in (pool, dpool):
                while not queue.empty():
                    queue.get_nowait().close()
            await nc.close()


# --- Baton, measured the same way --------------------------------------------------------------


async def baton(rate: float, seconds: float) -> tuple[dict, dict]:
    """Baton's embedded run: CPU per handoff at ``rate``, and intake's writes with the other
    services paused (as ``bench/run.py --only writes`` measures them alone)."""
    import http_bench

    embedded = http_bench.Embedded(Path(tempfile.mkdtemp(prefix="baton-floor-")) / "data")
    embedded.start(list(http_bench.SERVICES))
    try:
        await http_bench.settle(embedded)
        handoff = await http_bench.handoff_e2e(embedded, rate, seconds)
        await http_bench.settle(embedded)
        others = [pid for name, pid in embedded.pids().items() if name not in ("intake", "nats-server")]
        with http_bench.paused(others):
            writes = await http_bench.measure_writes(embedded, "intake", http_bench.intake_script(), 16, seconds)
        return handoff["cpu_ms_per_handoff"], {"writes_per_s": writes["commands_per_s"], **writes["cpu_ms_per_command"]}
    finally:
        embedded.stop()


# --- the run -----------------------------------------------------------------------------------


def row(label: str, figures: dict[str, float], names: list[str]) -> str:
    return f"{label:28s}" + "".join(f"{figures.get(n, float('nan')):>12.3f}" for n in names)


async def main(args: argparse.Namespace) -> None:
    import nats

    folder = Path(tempfile.mkdtemp(prefix="baton-floor-"))
    server, url = start_nats(folder / "nats")
    try:
        nc = await nats.connect(url)
        kloops = calibration.python_kloops_per_s()
        round_trip = await calibration.jetstream_round_trip(nc)
        await nc.close()
        load = os.getloadavg()[0]
        handoff = await skeleton_handoffs(url, server.pid, folder, args.rate, args.seconds)
        write = await skeleton_writes(url, server.pid, folder, args.seconds)
        parts = await floor_parts.measure(url, server.pid, folder, args.n, args.postgresql) if args.parts else {}
    finally:
        stop_process(server)
    figures = {"floor": (handoff, write)}
    if args.baton:
        figures["Baton"] = await baton(args.rate, args.seconds)
    describe = calibration.describe({"python_kloops_per_s": kloops, "jetstream_round_trip": round_trip})
    print(f"calibration: {describe}; load {load:.2f} at the start")
    names = [*handoff_skeleton.ROLES, "nats-server"]
    print(f"\nCPU per handoff at {args.rate:.0f}/s (ms), per process and in all:")
    print(f"{'':28s}" + "".join(f"{n:>12s}" for n in [*names, "all"]))
    for label, (per_handoff, _) in figures.items():
        print(row(label, {**per_handoff, "all": sum(per_handoff.get(n, 0) for n in names)}, [*names, "all"]))
    print("\nintake's writes alone, 16 connections (CPU ms per write):")
    print(f"{'':28s}" + "".join(f"{n:>12s}" for n in ("intake", "nats-server", "writes/s")))
    for label, (_, per_write) in figures.items():
        print(row(label, {**per_write, "writes/s": per_write["writes_per_s"]}, ["intake", "nats-server", "writes/s"]))
    if args.baton:
        (fh, fw), (bh, bw) = figures["floor"], figures["Baton"]
        all_floor, all_baton = (sum(f.get(n, 0) for n in names) for f in (fh, bh))
        print(
            f"\nBaton / floor: a handoff {all_baton / all_floor:.2f}x, intake's write {bw['intake'] / fw['intake']:.2f}x"
        )
    if parts:
        print("\neach part alone (CPU us per operation; nats-server's beside):")
        for name, (own, nats_server) in parts.items():
            print(f"  {name:42s} {own * 1e6:8.0f} {nats_server * 1e6:8.0f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baton", action="store_true", help="also measure Baton's embedded run, the same way")
    parser.add_argument("--parts", action="store_true", help="also each part alone (floor_parts.py)")
    parser.add_argument("--rate", type=float, default=200, help="handoffs per second (default 200)")
    parser.add_argument("--seconds", type=float, default=15, help="seconds measured per figure (default 15)")
    parser.add_argument("--postgresql", help="with --parts, also a transaction through asyncpg on this URL")
    parser.add_argument("--n", type=int, default=4000, help="operations per part, with --parts")
    asyncio.run(main(parser.parse_args()))
