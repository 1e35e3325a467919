"""A rebuild running beside live projections, for the live-lag figure (issue #23): intake's
clients projection rebuilt again and again from the start of the benchmark stream into
copies in the live database, as ``baton projections rebuild`` builds beside the live tables,
until the time is up. Prints one JSON line: rebuilds, events folded, events per second.

    python bench/rebuild_beside.py NATS_URL DATABASE_URL SECONDS
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nats as nats_py  # noqa: E402
from baton_intake.projections import ClientsProjection  # noqa: E402
from baton_shared.contracts import registry  # noqa: E402
from baton_shared.eventstore.provisioning import js_api  # noqa: E402
from baton_shared.projections import ProjectionRunner  # noqa: E402
from baton_shared.projections.rebuild import rebuild_batch  # noqa: E402
from baton_shared.projections.sql import make_engine  # noqa: E402
from baton_shared.service.garbage_collection import BULK_THRESHOLDS, tune_garbage_collection  # noqa: E402

from common import SPEC  # noqa: E402


async def main(nats_url: str, url: str, seconds: float) -> None:
    nc = await nats_py.connect(nats_url)
    engine = make_engine(url)
    deadline = time.monotonic() + seconds
    rebuilds = folded = 0
    started = time.monotonic()
    try:
        while time.monotonic() < deadline:
            head = (await js_api(nc, f"STREAM.INFO.{SPEC.name}"))["state"]["last_seq"]
            copy = ClientsProjection(f"__beside{rebuilds}")
            runner = ProjectionRunner(copy, engine, SPEC, registry, service="beside")
            await runner.setup()
            folded += await runner.catch_up(nc, until=head, batch_size=rebuild_batch(engine))  # as a rebuild does
            async with engine.begin() as conn:
                await conn.run_sync(copy.metadata.drop_all)
            rebuilds += 1
    finally:
        await engine.dispose()
        await nc.close()
    took = time.monotonic() - started
    print(json.dumps({"rebuilds": rebuilds, "events": folded, "events_per_s": round(folded / took)}))


if __name__ == "__main__":
    tune_garbage_collection(BULK_THRESHOLDS)  # as ``baton`` runs
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3])))
