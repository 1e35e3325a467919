"""A never-loaded aggregate's history read from a short and a long intake stream, nothing else.

    .venv/bin/python bench/cold_load_bench.py [--clients 1000 21000] [--samples 200]

Seeds intake's part of ``large_log.History`` (12 events per client) into a fresh stream per size,
then reads ``samples`` clients' histories through ``JetStreamEventStore.history`` with nothing
remembered (``cache_size=0``): p50/p99 and nats-server's CPU per load, which shows whether the
server's lookup (a wildcard ``next_by_subj`` from sequence 1) grows with the stream.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nats as nats_py  # noqa: E402

from baton_shared.contracts import STREAMS, registry  # noqa: E402
from baton_shared.eventstore.jetstream import JetStreamEventStore  # noqa: E402
from baton_shared.eventstore.provisioning import provision_stream  # noqa: E402

from common import cpu_seconds, latency_summary, loadavg, start_nats, stop_process  # noqa: E402
from large_log import History  # noqa: E402

SPEC = STREAMS["intake"]


async def one(clients: int, samples: int, workdir: Path) -> dict:
    proc, url = start_nats(workdir / f"js-{clients}")
    try:
        nc = await nats_py.connect(url)
        await provision_stream(nc, SPEC)
        js = nc.jetstream()
        history = History()
        ids = []
        pending = []
        for c in range(clients):
            cid, events = history.client(c)
            ids.append(cid)
            for subject, body, event_id in events:
                if subject.startswith("intake."):
                    pending.append(js.publish(subject, body, headers={"Nats-Msg-Id": event_id}))
            if len(pending) >= 512:
                await asyncio.gather(*pending)
                pending = []
        await asyncio.gather(*pending)
        events = (await js.stream_info(SPEC.name)).state.messages
        store = JetStreamEventStore(nc, SPEC, registry, cache_size=0)
        picks = random.Random(7).sample(ids, min(samples, len(ids)))
        took = []
        cpu0 = cpu_seconds(proc.pid)
        for cid in picks:
            t = time.perf_counter()
            h = await store.history("client", cid)
            took.append((time.perf_counter() - t) * 1000)
            assert len(h.events) == 4, len(h.events)
        cpu = cpu_seconds(proc.pid) - cpu0
        await nc.close()
        return {
            "clients": clients,
            "stream_events": events,
            **latency_summary(took),
            "nats_server_cpu_ms_per_load": round(1000 * cpu / len(picks), 3),
            "loadavg": loadavg(),
        }
    finally:
        stop_process(proc)


async def main(args) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="baton-cold-load-"))
    try:
        for clients in args.clients:
            r = await one(clients, args.samples, workdir)
            print(
                f"{r['stream_events']:>9,} events: p50 {r['p50_ms']:.2f} ms, p99 {r['p99_ms']:.2f} ms, "
                f"nats-server {r['nats_server_cpu_ms_per_load']:.3f} ms CPU per load, load {r['loadavg']}",
                flush=True,
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, nargs="+", default=[1000, 21000])
    p.add_argument("--samples", type=int, default=200)
    asyncio.run(main(p.parse_args()))
