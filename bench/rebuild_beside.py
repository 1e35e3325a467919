"""A rebuild running beside live projections, for the live-lag figure (issue #23): intake's
clients projection rebuilt again and again from the start of the benchmark stream into
copies in the live database, as ``baton projections rebuild`` builds beside the live tables
(at the lowest CPU priority, in as many processes as the tool would take when it starts, or
PARTS), until the time is up. Prints one JSON line:
rebuilds, events folded, events per second, the parts it folded in.

    python bench/rebuild_beside.py NATS_URL DATABASE_URL SECONDS [PARTS]
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
from baton_shared.projections.machine_share import default_parts, run_in_background  # noqa: E402
from baton_shared.projections.rebuild import SPLIT_FROM_EVENTS, ProjectionRebuild  # noqa: E402
from baton_shared.projections.sql import make_engine  # noqa: E402
from baton_shared.service.garbage_collection import BULK_THRESHOLDS, tune_garbage_collection  # noqa: E402

from common import SPEC  # noqa: E402


async def main(nats_url: str, url: str, seconds: float, parts: int) -> None:
    nc = await nats_py.connect(nats_url)
    engine = make_engine(url)
    deadline = time.monotonic() + seconds
    rebuilds = folded = 0
    split = 1
    started = time.monotonic()
    try:
        while time.monotonic() < deadline:
            head = (await js_api(nc, f"STREAM.INFO.{SPEC.name}"))["state"]["last_seq"]
            rebuild = ProjectionRebuild(
                "beside", ClientsProjection, engine, SPEC, registry, suffix=f"__beside{rebuilds}"
            )
            n = await rebuild.build(nc, until=head, parts=parts)
            split = parts if rebuild.splits() and n >= SPLIT_FROM_EVENTS else 1  # as ``build`` decides
            folded += n
            await rebuild.discard()
            rebuilds += 1
    finally:
        await engine.dispose()
        await nc.close()
    took = time.monotonic() - started
    result = {"rebuilds": rebuilds, "events": folded, "events_per_s": round(folded / took), "parts": split}
    print(json.dumps(result))


if __name__ == "__main__":
    tune_garbage_collection(BULK_THRESHOLDS)  # as ``baton projections rebuild`` runs:
    # at the lowest CPU priority (in the idle class beside PostgreSQL), in the parts the idle cores allow
    run_in_background(beside_a_server=not sys.argv[2].startswith("sqlite"))
    parts = int(sys.argv[4]) if len(sys.argv) > 4 else default_parts()
    asyncio.run(main(sys.argv[1], sys.argv[2], float(sys.argv[3]), parts))
