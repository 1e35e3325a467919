"""Webhook deliveries (notify, issue 22): deliveries per second to a fast local receiver with 1
and with 100 subscriptions, and stored→received latency p50/p99 at a paced 200 events/s.

    .venv/bin/python bench/webhook_bench.py [--events 2000] [--many 100] [--per-many 100] [--seconds 10]

A private nats-server; notify in this process on SQLite; the receiver (uvicorn, answers 200 at
once) in this process too, so notify and receiver share one core's worth of Python. Prints one
JSON object with the figures and the load average before and after.
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
from bench.common import SPEC, WorkloadWriter, fill_fast, free_port, latency_summary, loadavg, start_nats, stop_process  # noqa: E402

from baton_shared.eventstore.provisioning import provision_stream  # noqa: E402

TOKEN = "bench-admin-token-0000000"


class Receiver:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.count = 0
        self.latencies_ms: list[float] = []
        self.measure = False

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.measure:
            stored = datetime.fromisoformat(orjson.loads(body)["occurred_at"]).timestamp()
            self.latencies_ms.append((time.time() - stored) * 1000)
        self.count += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})


async def wait_for(probe, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} not reached in {timeout}s")
        await asyncio.sleep(0.01)


async def subscribe(client: httpx.AsyncClient, url: str, from_start: bool) -> str:
    r = await client.post("/v1/webhooks", json={"url": url, "event_types": ["ClientRegistered"]})
    r.raise_for_status()
    webhook_id = r.json()["ids"]["webhook_id"]
    if from_start:
        r = await client.post(f"/v1/webhooks/{webhook_id}/replay", json={"positions": {"INTAKE": 0}})
        r.raise_for_status()
    return webhook_id


async def throughput(client, receiver: Receiver, subscriptions: int, expected: int) -> dict:
    receiver.count = 0
    started = time.perf_counter()
    ids = [await subscribe(client, receiver.url, from_start=True) for _ in range(subscriptions)]
    await wait_for(lambda: receiver.count >= expected, 600, f"{expected} deliveries")
    elapsed = time.perf_counter() - started
    for webhook_id in ids:  # stop them before the next part
        await client.delete(f"/v1/webhooks/{webhook_id}")
    return {
        "subscriptions": subscriptions,
        "deliveries": receiver.count,
        "seconds": round(elapsed, 2),
        "deliveries_per_s": round(receiver.count / elapsed, 1),
    }


async def paced_latency(nc, client, receiver: Receiver, rate: int, seconds: float) -> dict:
    webhook_id = await subscribe(client, receiver.url, from_start=False)
    await asyncio.sleep(1.0)  # the deliverer picks the new webhook up
    receiver.count, receiver.latencies_ms, receiver.measure = 0, [], True
    writer = WorkloadWriter(per_client=1)
    js = nc.jetstream()
    total = int(rate * seconds)
    started = time.perf_counter()
    for n in range(total):
        [(subject, body, event_id)] = writer.client()  # occurred_at: now, just before it is stored
        await js.publish(subject, body, headers={"Nats-Msg-Id": event_id})
        ahead = started + (n + 1) / rate - time.perf_counter()
        if ahead > 0:
            await asyncio.sleep(ahead)
    await wait_for(lambda: receiver.count >= total, 120, f"{total} paced deliveries")
    receiver.measure = False
    await client.delete(f"/v1/webhooks/{webhook_id}")
    return {
        "rate_per_s": rate,
        "events": total,
        **{k: round(v, 1) for k, v in latency_summary(receiver.latencies_ms).items()},
    }


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=2000, help="events for the one-subscription run")
    parser.add_argument("--many", type=int, default=100, help="subscriptions in the second run")
    parser.add_argument("--per-many", type=int, default=100, help="events each of the many gets")
    parser.add_argument("--seconds", type=float, default=10, help="length of the paced run")
    parser.add_argument("--rate", type=int, default=200)
    args = parser.parse_args()

    from baton_notify.composition import create_app
    from baton_notify.settings import NotifySettings

    out: dict = {"load_before": loadavg()}
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
                webhooks_poll_seconds=0.02,
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
                out["one_subscription"] = await throughput(client, receiver, 1, args.events)
                print(json.dumps(out["one_subscription"]), file=sys.stderr, flush=True)
                # The many each get the first --per-many events: replay from 0, stop counting there.
                many_expected = args.many * min(args.per_many, args.events)
                if args.per_many < args.events:
                    out["many_note"] = f"each of the {args.many} gets all {args.events} events; counted to the total"
                    many_expected = args.many * args.events
                out["many_subscriptions"] = await throughput(client, receiver, args.many, many_expected)
                print(json.dumps(out["many_subscriptions"]), file=sys.stderr, flush=True)
                out["paced"] = await paced_latency(nc, client, receiver, args.rate, args.seconds)
            server.should_exit = True
            await serving
            await nc.close()
        finally:
            stop_process(proc)
    out["load_after"] = loadavg()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
