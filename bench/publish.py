"""The event source of the live-lag benchmark, run as its own process (as the services
writing a stream are): appends through Baton's event store at a fixed rate.

    .venv/bin/python bench/publish.py NATS_URL RATE SECONDS

Alternates ``ClientRegistered`` (a new client) and ``NeedCaptured`` (a request of the
last client). Prints one JSON line: events appended, achieved rate, errors.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nats as nats_py  # noqa: E402

from baton_shared.contracts import intake as ev  # noqa: E402
from baton_shared.contracts import registry  # noqa: E402
from baton_shared.eventstore import NewEvent  # noqa: E402
from baton_shared.eventstore.jetstream import JetStreamEventStore  # noqa: E402

from common import SPEC, registered  # noqa: E402


def need(client_id: str) -> NewEvent:
    rid = str(uuid.uuid4())
    return NewEvent(
        ev.NeedCaptured(request_id=rid, client_id=client_id, summary="bench need", requirements={"floors": 2}),
        correlation_id=rid,
        actor="bench",
    )


async def main(url: str, rate: float, seconds: float) -> dict:
    nc = await nats_py.connect(url)
    store = JetStreamEventStore(nc, SPEC, registry)
    total = int(rate * seconds)
    clients: list[str] = []
    errors = 0
    tasks = []

    async def append(n: int) -> None:
        nonlocal errors
        try:
            if n % 2 == 0 or not clients:
                cid = str(uuid.uuid4())
                await store.append("client", cid, 0, [registered(cid)])
                clients.append(cid)
            else:
                new = need(clients[-1])
                await store.append("request", new.event.request_id, 0, [new])
        except Exception:  # noqa: BLE001 - counted
            errors += 1

    t0 = time.perf_counter()
    for n in range(total):
        delay = t0 + n / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(append(n)))
    achieved = total / (time.perf_counter() - t0)
    await asyncio.gather(*tasks)
    await nc.close()
    return {"events": total, "rate_achieved": achieved, "errors": errors}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], float(sys.argv[2]), float(sys.argv[3])))))
