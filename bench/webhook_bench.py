"""Webhook deliveries (notify, issue 22): deliveries per second to a fast local receiver with 1
and with 100 subscriptions, and the time from an event's send to its webhook received, p50/p99,
at a paced 200 events/s, and the CPU that many caught-up subscriptions cost at rest.

    .venv/bin/python bench/webhook_bench.py [--events 2000] [--many 100] [--per-many 100] [--seconds 10]
        [--rest-seconds 10] [--poll SECONDS]

A private nats-server; notify in this process on SQLite; the receiver (uvicorn, answers 200 at
once) in this process too, so notify and receiver share one core's worth of Python. Each part
has its own receiver path, so a webhook of an earlier part (deleted, but perhaps still
finishing a request) is not counted. The paced part measures from each event's scheduled send
time (``t0 + n / rate``: a publisher that falls behind is counted, not hidden) and, beside it,
from when the event was stored; it reports how far behind the schedule the sends fell. Prints
one JSON object with the figures, a calibration figure and the load average before and after.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import nats
import orjson
import uvicorn
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.common import (  # noqa: E402
    SPEC,
    WorkloadWriter,
    cpu_seconds,
    fill_fast,
    free_port,
    latency_summary,
    loadavg,
    start_nats,
    stop_process,
)
from bench.calibration import python_kloops_per_s  # noqa: E402

from baton_shared.eventstore.provisioning import provision_stream  # noqa: E402

TOKEN = "bench-admin-token-0000000"


class Receiver:
    """Counts deliveries per path (``/hook/<part>``); for the paced part, the latencies."""

    def __init__(self) -> None:
        self.port = free_port()
        self.counts: dict[str, int] = {}
        self.scheduled: dict[str, float] = {}  # event id -> when it was to be sent (time.time())
        self.from_schedule_ms: list[float] = []
        self.from_stored_ms: list[float] = []

    def url(self, part: str) -> str:
        return f"http://127.0.0.1:{self.port}/hook/{part}"

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        now = time.time()
        part = scope["path"].rsplit("/", 1)[-1]
        if part == "paced":
            envelope = orjson.loads(body)
            self.from_stored_ms.append((now - datetime.fromisoformat(envelope["occurred_at"]).timestamp()) * 1000)
            scheduled = self.scheduled.get(envelope["id"])
            if scheduled is not None:
                self.from_schedule_ms.append((now - scheduled) * 1000)
        self.counts[part] = self.counts.get(part, 0) + 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def wait_for(probe, timeout: float, what: str, progress=None) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    said = time.monotonic()
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        if progress is not None and time.monotonic() - said > 5:
            print(f"waiting for {what}: {progress()}", file=sys.stderr, flush=True)
            said = time.monotonic()
        await asyncio.sleep(0.01)


async def subscribe(client: httpx.AsyncClient, url: str, start: int | None) -> str:
    """A webhook on ClientRegistered; ``start``: replayed to send what follows that position."""
    r = await client.post("/v1/webhooks", json={"url": url, "event_types": ["ClientRegistered"]})
    r.raise_for_status()
    webhook_id = r.json()["ids"]["webhook_id"]
    if start is not None:
        r = await client.post(f"/v1/webhooks/{webhook_id}/replay", json={"positions": {"INTAKE": start}})
        r.raise_for_status()
    return webhook_id


async def throughput(client, receiver: Receiver, part: str, subscriptions: int, start: int, each: int) -> dict:
    expected = subscriptions * each
    started = time.perf_counter()
    ids = [await subscribe(client, receiver.url(part), start) for _ in range(subscriptions)]
    await wait_for(
        lambda: receiver.counts.get(part, 0) >= expected, 900, f"{expected} deliveries", lambda: receiver.counts
    )
    elapsed = time.perf_counter() - started
    for webhook_id in ids:  # stop them before the next part
        await client.delete(f"/v1/webhooks/{webhook_id}")
    return {
        "subscriptions": subscriptions,
        "events_each": each,
        "deliveries": receiver.counts[part],
        "seconds": round(elapsed, 2),
        "deliveries_per_s": round(receiver.counts[part] / elapsed, 1),
    }


async def paced_latency(nc, client, receiver: Receiver, rate: int, seconds: float, nats_pid: int) -> dict:
    webhook_id = await subscribe(client, receiver.url("paced"), None)
    await asyncio.sleep(1.0)  # the deliverer picks the new webhook up
    writer = WorkloadWriter(per_client=1)
    js = nc.jetstream()
    total = int(rate * seconds)
    process_0, nats_0 = time.process_time(), cpu_seconds(nats_pid)
    t0 = time.time()
    behind_ms: list[float] = []
    for n in range(total):
        scheduled = t0 + n / rate
        ahead = scheduled - time.time()
        if ahead > 0:
            await asyncio.sleep(ahead)
        behind_ms.append(max(0.0, (time.time() - scheduled) * 1000))
        [(subject, body, event_id)] = writer.client()  # occurred_at: now, just before it is stored
        receiver.scheduled[event_id] = scheduled
        await js.publish(subject, body, headers={"Nats-Msg-Id": event_id})
    await wait_for(lambda: receiver.counts.get("paced", 0) >= total, 300, f"{total} paced deliveries")
    process_ms, nats_ms = (time.process_time() - process_0) * 1000, (cpu_seconds(nats_pid) - nats_0) * 1000
    await client.delete(f"/v1/webhooks/{webhook_id}")
    return {
        "rate_per_s": rate,
        "events": total,
        "sends_behind_schedule_ms": {k: round(v, 1) for k, v in latency_summary(behind_ms).items() if k != "n"},
        "from_schedule": {k: round(v, 1) for k, v in latency_summary(receiver.from_schedule_ms).items()},
        "from_stored": {k: round(v, 1) for k, v in latency_summary(receiver.from_stored_ms).items()},
        # this process is notify, the receiver and the publisher: compare runs, not processes
        "cpu_ms_per_event": {"this_process": round(process_ms / total, 3), "nats_server": round(nats_ms / total, 3)},
    }


async def at_rest(client, receiver: Receiver, subscriptions: int, seconds: float, nats_pid: int) -> dict:
    """CPU per second of this process (notify; the receiver is idle) and of nats-server while
    ``subscriptions`` caught-up webhooks wait and nothing is stored."""
    ids = [await subscribe(client, receiver.url("rest"), None) for _ in range(subscriptions)]
    await asyncio.sleep(3.0)  # every one picked up and caught up
    notify_0, nats_0, t0 = time.process_time(), cpu_seconds(nats_pid), time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - t0
    notify_ms = (time.process_time() - notify_0) * 1000 / elapsed
    nats_ms = (cpu_seconds(nats_pid) - nats_0) * 1000 / elapsed
    for webhook_id in ids:
        await client.delete(f"/v1/webhooks/{webhook_id}")
    return {
        "subscriptions": subscriptions,
        "seconds": round(elapsed, 1),
        "notify_cpu_ms_per_s": round(notify_ms, 2),
        "nats_server_cpu_ms_per_s": round(nats_ms, 2),
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000, help="events for the one-subscription run")
    parser.add_argument("--many", type=int, default=100, help="subscriptions in the second run")
    parser.add_argument("--per-many", type=int, default=100, help="events each of the many gets")
    parser.add_argument("--seconds", type=float, default=10, help="length of the paced run")
    parser.add_argument("--rate", type=int, default=200)
    parser.add_argument("--rest-seconds", type=float, default=10, help="length of the at-rest part (0: none)")
    parser.add_argument("--poll", type=float, help="BATON_WEBHOOKS_POLL_SECONDS (default: the service's)")
    args = parser.parse_args()

    from baton_notify.composition import create_app
    from baton_notify.settings import NotifySettings

    out: dict = {"load_before": loadavg(), "calibration": {"python_kloops_per_s": python_kloops_per_s()}}
    out["poll_seconds"] = args.poll or "the service's default"
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_nats(Path(tmp) / "js")
        try:
            nc = await nats.connect(url)
            await provision_stream(nc, SPEC)
            await fill_fast(nc, args.events, per_client=1)
            receiver = Receiver()
            server = uvicorn.Server(
                uvicorn.Config(
                    receiver,
                    host="127.0.0.1",
                    port=receiver.port,
                    log_level="warning",
                    lifespan="off",
                    access_log=False,
                )
            )
            serving = asyncio.create_task(server.serve())
            await wait_for(lambda: server.started, 15, "receiver")
            settings = NotifySettings(
                nats_url=url,
                data_dir=Path(tmp),
                database_url=f"sqlite+aiosqlite:///{tmp}/notify.sqlite3",
                log_level="WARNING",
                tokens=json.dumps([{"name": "bench", "role": "admin", "token": TOKEN}]),
                webhooks_allow_private=True,
                **({"webhooks_poll_seconds": args.poll} if args.poll else {}),
            )
            app = create_app(settings)
            async with (
                LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url="http://notify",
                    headers={"Authorization": f"Bearer {TOKEN}"},
                ) as client,
            ):
                out["one_subscription"] = await throughput(client, receiver, "one", 1, 0, args.events)
                print(json.dumps(out["one_subscription"]), file=sys.stderr, flush=True)
                # The many each get the last --per-many events of the stream.
                each = min(args.per_many, args.events)
                out["many_subscriptions"] = await throughput(
                    client, receiver, "many", args.many, args.events - each, each
                )
                print(json.dumps(out["many_subscriptions"]), file=sys.stderr, flush=True)
                out["paced"] = await paced_latency(nc, client, receiver, args.rate, args.seconds, proc.pid)
                print(json.dumps(out["paced"]), file=sys.stderr, flush=True)
                if args.rest_seconds > 0:
                    out["at_rest"] = await at_rest(client, receiver, args.many, args.rest_seconds, proc.pid)
            server.should_exit = True
            await serving
            await nc.close()
        finally:
            stop_process(proc)
    out["load_after"] = loadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
