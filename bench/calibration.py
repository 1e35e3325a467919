"""How fast this host is, measured in the same run as the figures it travels with.

Two fixed workloads, independent of Baton's code so that a change to Baton never moves them:

- **pure Python**: a fixed mix of what Baton's hot paths do (dict building, ``json`` round trips,
  a pydantic model validated and dumped, string formatting), timed in one thread; the figure is
  thousands of loops per second (higher is faster);
- **JetStream round trip**: one publish awaited for its acknowledgement, on a stream of its own
  on the run's nats-server; the figure is the p50 and p99 in microseconds.

Hosts of the same kind differ up to ~3x in pure-Python speed: an absolute rate is quoted beside
these two figures, and a target is a ratio to a ceiling of the same run or CPU per operation.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid

from pydantic import BaseModel

from common import percentile

LOOPS = 20_000


class _Sample(BaseModel):
    client_id: str
    name: str
    segment: str
    revenue: float
    tags: list[str]


def _loop(n: int) -> None:
    for i in range(n):
        raw = {
            "client_id": f"c-{i}",
            "name": "Calibration client",
            "segment": "B2B",
            "revenue": i * 1.5,
            "tags": ["key", "north", str(i % 7)],
        }
        model = _Sample.model_validate(json.loads(json.dumps(raw)))
        model.model_dump_json()
        "-".join(f"{k}={v}" for k, v in raw.items() if k != "tags")


def python_kloops_per_s(rounds: int = 5) -> float:
    """Median of ``rounds`` timings of the fixed loop, in thousands of loops per second."""
    _loop(500)  # warm-up: imports, pydantic's validator build
    rates = []
    for _ in range(rounds):
        t = time.perf_counter()
        _loop(LOOPS)
        rates.append(LOOPS / (time.perf_counter() - t) / 1000)
    return round(statistics.median(rates), 2)


async def jetstream_round_trip(nc, count: int = 2_000) -> dict:  # noqa: ANN001
    """Publish-and-await on a scratch stream (file storage, like Baton's), then delete it."""
    js = nc.jetstream()
    name = f"CALIBRATION_{uuid.uuid4().hex[:8]}"
    await js.add_stream(name=name, subjects=[f"{name.lower()}.>"])
    try:
        for _ in range(100):  # warm-up
            await js.publish(f"{name.lower()}.x", b"{}")
        took = []
        for _ in range(count):
            t = time.perf_counter()
            await js.publish(f"{name.lower()}.x", b'{"calibration": true}')
            took.append((time.perf_counter() - t) * 1e6)
    finally:
        await js.delete_stream(name)
    return {"p50_us": round(percentile(took, 50), 1), "p99_us": round(percentile(took, 99), 1)}


def describe(calibration: dict) -> str:
    """One line for the table's header."""
    parts = [f"pure Python {calibration.get('python_kloops_per_s', '?')}k loops/s"]
    rt = calibration.get("jetstream_round_trip")
    if rt:
        parts.append(f"JetStream publish round trip p50 {rt['p50_us']:.0f} us, p99 {rt['p99_us']:.0f} us")
    return "; ".join(parts)
