"""What applying the record of forgotten clients costs intake at start (baton_shared.forgotten).

Two passes over the same broker and record: first as after a restore from before the forgets
(every recorded client's key back, no ClientForgotten in the log: keys destroyed, events
appended), then as at an ordinary start (nothing to do: one filtered read of the stream and a
key lookup per forgotten client). Prints JSON.

    .venv/bin/python bench/forgotten_bench.py --clients 2000 --filler 200000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

import nats
from baton_shared.contracts import registry
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import provision_stream
from baton_shared.forgotten import ForgottenClients, reapply_forgetting
from baton_shared.privacy import JetStreamKeyStore, MasterKey

sys.path.insert(0, str(Path(__file__).parent))
from common import SPEC, fill_fast, registered, start_nats, stop_process


async def measure(url: str, folder: Path, clients: int, filler: int) -> dict:
    nc = await nats.connect(url)
    try:
        await provision_stream(nc, SPEC)
        if filler:
            await fill_fast(nc, filler)
        store = JetStreamEventStore(nc, SPEC, registry)
        keys = JetStreamKeyStore(lambda: nc, MasterKey.from_base64(MasterKey.generate_text()))
        record = ForgottenClients(folder / "forgotten")
        ids = [str(uuid.uuid4()) for _ in range(clients)]
        window = asyncio.Semaphore(256)

        async def client_forgotten_then_restored(cid: str) -> None:
            async with window:
                await store.append("client", cid, 0, [registered(cid)])
                await keys.create(cid)  # the key a restored store brings back
                await record.add(cid)

        await asyncio.gather(*(client_forgotten_then_restored(cid) for cid in ids))
        out: dict = {"clients_forgotten": clients, "filler_events": filler}
        for label in ("after_restore", "ordinary_start"):
            t = time.perf_counter()
            outcome = await reapply_forgetting(
                nc, ForgottenClients(folder / "forgotten"), store, keys.held, keys.destroy
            )
            out[label] = {"seconds": round(time.perf_counter() - t, 3), **outcome.as_dict()}
        return out
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--filler", type=int, default=200_000, help="other events in the stream")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_nats(Path(tmp) / "jetstream")
        try:
            print(json.dumps(asyncio.run(measure(url, Path(tmp), args.clients, args.filler)), indent=2))
        finally:
            stop_process(proc)


if __name__ == "__main__":
    main()
