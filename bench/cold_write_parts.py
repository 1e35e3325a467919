"""What a first write to a client no process has touched costs nats-server on a kept large log, in parts.

    .venv/bin/python bench/cold_write_parts.py <kept folder>/large [--per-mode 40]

Would a copy of each aggregate's history in SQL (or a snapshot) make a cold write flat? Only if the
append itself is cheap when the history is not read from the stream. Per mode, on clients of the kept
log that nothing touched since nats-server started (modes interleaved, ``--per-mode`` clients each):

- ``read``: ``JetStreamEventStore.history`` with nothing remembered (today's cold read);
- ``info+append``: ``STREAM.INFO`` with the client's subject filter, then the append with the expected
  version taken from intake's timeline (what a SQL copy of the histories would leave);
- ``read+append``: the cold read, then the append (today's cold write, without HTTP);
- ``warm append``: a second append to a client just written (the baseline).

Each appends a real ``ClientNoteAdded``, so the kept log stays a valid log.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nats as nats_py  # noqa: E402

from baton_shared.contracts import STREAMS, registry  # noqa: E402
from baton_shared.contracts import intake as ik  # noqa: E402
from baton_shared.eventstore.jetstream import JetStreamEventStore  # noqa: E402
from baton_shared.eventstore.port import NewEvent  # noqa: E402
from baton_shared.eventstore.provisioning import js_api  # noqa: E402

import calibration  # noqa: E402
from common import cpu_seconds, latency_summary, loadavg, start_nats, stop_process  # noqa: E402

SPEC = STREAMS["intake"]
MODES = ("read", "info+append", "read+append")


def a_note(client_id: str) -> NewEvent:
    event = ik.ClientNoteAdded(client_id=client_id, note_id=str(uuid.uuid4()), text="bench", author="bench")
    return NewEvent(event, correlation_id=client_id, actor="bench")


def untouched_clients(data: Path, count: int, seed: int = 11) -> dict[str, int]:
    """``count`` random clients of the kept log and the stream sequence of each one's last intake event."""
    with sqlite3.connect(data / "intake.sqlite3") as db:
        rows = db.execute("SELECT max(rowid) FROM clients").fetchone()[0]
        rng, picked = random.Random(seed), {}
        while len(picked) < count:
            (client_id,) = db.execute(
                "SELECT client_id FROM clients WHERE rowid >= ? LIMIT 1", (rng.randint(1, rows),)
            ).fetchone()
            picked[client_id] = db.execute(
                "SELECT max(seq) FROM client_timeline WHERE client_id = ? AND stream = ? AND aggregate_type = 'client'",
                (client_id, SPEC.name),
            ).fetchone()[0]
    return picked


async def one(mode: str, store: JetStreamEventStore, nc, client_id: str, version: int) -> int | None:  # noqa: ANN001
    """Run ``mode`` on one client; the version after it, or None when nothing was appended."""
    if mode == "read":
        await store.history("client", client_id)
        return None
    if mode == "info+append":
        await js_api(nc, f"STREAM.INFO.{SPEC.name}", {"subjects_filter": SPEC.aggregate_filter("client", client_id)})
    else:
        version = (await store.history("client", client_id)).version
    return (await store.append("client", client_id, version, [a_note(client_id)])).last_seq


async def main(args: argparse.Namespace) -> None:
    clients = untouched_clients(args.data, args.per_mode * len(MODES), args.seed)
    proc, url = start_nats(args.data / "jetstream")
    try:
        nc = await nats_py.connect(url)
        store = JetStreamEventStore(nc, SPEC, registry, cache_size=0)
        await asyncio.sleep(args.settle)  # what the server read at start-up leaves its cache
        took: dict[str, list[float]] = {m: [] for m in (*MODES, "warm append")}
        server_cpu = dict.fromkeys(took, 0.0)

        async def timed(mode: str, work) -> int | None:  # noqa: ANN001
            c, t = cpu_seconds(proc.pid), time.perf_counter()
            result = await work
            took[mode].append((time.perf_counter() - t) * 1000)
            server_cpu[mode] += cpu_seconds(proc.pid) - c
            return result

        for n, (client_id, version) in enumerate(clients.items()):
            mode = MODES[n % len(MODES)]
            appended = await timed(mode, one(mode, store, nc, client_id, version))
            if appended is not None:
                await timed("warm append", store.append("client", client_id, appended, [a_note(client_id)]))
        await nc.close()
    finally:
        stop_process(proc)
    print(f"calibration: pure Python {calibration.python_kloops_per_s():.1f}k loops/s; load {loadavg()}")
    for mode, xs in took.items():
        s = latency_summary(xs)
        print(
            f"{mode:12s} n={s['n']:3d}  p50 {s['p50_ms']:6.2f} ms  p90 {s['p90_ms']:6.2f} ms"
            f"  nats-server CPU {1000 * server_cpu[mode] / len(xs):6.2f} ms per operation"
        )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data", type=Path, help="the large/ folder of a kept run (large_log.py --keep)")
    p.add_argument("--per-mode", type=int, default=40)
    p.add_argument("--seed", type=int, default=11, help="which clients (take another after a run: they are touched)")
    p.add_argument("--settle", type=float, default=20, help="seconds to wait after nats-server starts")
    asyncio.run(main(p.parse_args()))
