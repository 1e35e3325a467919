"""End-to-end handoff latency: intake's handoff POST until the work order is readable on delivery.

    .venv/bin/python bench/handoff_latency.py [--handoffs 1000]

Starts the embedded run (nats-server, intake, delivery as real processes, SQLite
projections) in a temporary folder on free ports, registers a client and opens
a request per handoff, then hands off one piece of work at a time: the clock starts before
the POST to intake and stops when GET /v1/work-orders/{id} on delivery answers
200 (polled every millisecond). Prints p50/p90/p99/max and writes
bench/results/handoff_latency.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def free_offset() -> int:
    for _ in range(100):
        offset = random.randint(20_000, 40_000)
        ok = True
        for n in range(3):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", 8001 + offset + n))
                except OSError:
                    ok = False
        if ok:
            return offset
    raise RuntimeError("no free ports")


async def wait_healthy(client: httpx.AsyncClient, url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if (await client.get(f"{url}/health")).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise TimeoutError(f"{url} not healthy")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


post_ms: list[float] = []


async def measure(intake: str, delivery: str, handoffs: int) -> list[float]:
    async with httpx.AsyncClient(timeout=10) as http:
        await wait_healthy(http, intake)
        await wait_healthy(http, delivery)
        client = await http.post(f"{intake}/v1/clients", json={"name": "Bench", "segment": "B2B", "account_manager": "alice"})
        cid = client.json()["ids"]["client_id"]
        due = (date.today() + timedelta(days=30)).isoformat()
        latencies = []
        post_ms.clear()
        for n in range(handoffs + 20):  # the first 20 warm up and are not counted
            # Each handoff on a request of its own (opened untimed), as in real work.
            r = await http.post(f"{intake}/v1/clients/{cid}/requests", json={"summary": "bench"})
            rid = r.json()["ids"]["request_id"]
            started = time.perf_counter()
            r = await http.post(
                f"{intake}/v1/requests/{rid}/handoffs",
                json={"work": [{"department": f"dept{n}", "scope": "bench", "due_by": due}]},
            )
            assert r.status_code == 201, r.text
            post_ms.append((time.perf_counter() - started) * 1000)
            wo = r.json()["ids"]["handoff_ids"][0]
            while (await http.get(f"{delivery}/v1/work-orders/{wo}")).status_code != 200:
                await asyncio.sleep(0.001)
            if n >= 20:
                latencies.append((time.perf_counter() - started) * 1000)
        return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--handoffs", type=int, default=1000)
    args = parser.parse_args()
    data = Path(tempfile.mkdtemp(prefix="baton-latency-"))
    offset, nats_port = free_offset(), free_port()
    env = {**os.environ, "BATON_LOG_LEVEL": "WARNING"}
    runner = subprocess.Popen(
        [sys.executable, str(ROOT / "deploy/embedded/run.py"), "--data-dir", str(data), "--nats-port", str(nats_port),
         "--port-offset", str(offset)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        latencies = asyncio.run(
            measure(f"http://127.0.0.1:{8001 + offset}", f"http://127.0.0.1:{8002 + offset}", args.handoffs)
        )
    finally:
        runner.send_signal(signal.SIGINT)
        runner.wait(60)
    result = {
        "handoffs": len(latencies),
        "p50_ms": statistics.median(latencies),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "mean_ms": statistics.fmean(latencies),
        "post_p50_ms": statistics.median(post_ms[20:]),
        "post_p99_ms": percentile(post_ms[20:], 99),
        "setup": "embedded run: nats-server, intake, delivery processes, SQLite; one handoff at a time; 1 ms polling",
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "handoff_latency.json").write_text(json.dumps(result, indent=2))
    print(f"handoff POST on intake -> work order readable on delivery, {result['handoffs']} handoffs:")
    for key in ("p50_ms", "p90_ms", "p99_ms", "max_ms", "mean_ms", "post_p50_ms", "post_p99_ms"):
        print(f"  {key:11} {result[key]:8.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
