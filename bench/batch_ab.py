"""CPU per live batch, this tree against an earlier commit, in one sitting: two processes take turns.

    .venv/bin/python bench/batch_ab.py --base c5c14c1 [--db sqlite|postgresql] [--rounds 10] [--batch 300]

Each side is its own process (the base runs from a git worktree of ``--base``) with its own
nats-server, stream and database. Both fold intake's projections, one event per batch through
``apply_together``, as a live feed does at a low event rate (on a kept connection, where the
tree has ``KeptConnection``). They run ``--batch`` batches in
turn, ``--rounds`` times, so a host whose speed drifts (other tenants) slows both alike; the
figure is the ratio per round. Prints CPU per batch of each side and the ratio new / base.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WARM_UP = 200


def source_path(tree: Path) -> str:
    return os.pathsep.join(
        str(p) for p in [tree / "shared" / "src", tree / "ops" / "src", *(tree / "services").glob("*/src")]
    )


async def worker(db: str, name: str, events: int) -> None:
    """Set up, print ``ready``, then per ``go N`` line fold N events one by one and print the CPU seconds."""
    sys.path.insert(0, str(BENCH))
    import nats as nats_py

    from baton_intake.projections import all_projections
    from baton_shared.contracts import registry
    from baton_shared.eventstore.jetstream import JetStreamEventStore
    from baton_shared.eventstore.provisioning import provision_stream
    from baton_shared.eventstore.reader import read_stream
    from baton_shared.projections import ProjectionRunner
    from baton_shared.projections.runner import apply_together
    from baton_shared.projections.sql import make_engine
    from baton_shared.service.garbage_collection import tune_garbage_collection
    from common import SPEC, fresh_postgres, registered, start_nats, stop_process
    from publish import need

    tune_garbage_collection()
    work = Path(tempfile.mkdtemp(prefix="batch-ab-"))
    proc, url = start_nats(work / "jetstream")
    try:
        nc = await nats_py.connect(url)
        await provision_stream(nc, SPEC)
        store = JetStreamEventStore(nc, SPEC, registry)
        for _ in range(events // 2 + 1):
            client_id = str(uuid.uuid4())
            await store.append("client", client_id, 0, [registered(client_id)])
            request = need(client_id)
            await store.append("request", request.event.request_id, 0, [request])
        raws = [raw async for batch in read_stream(nc, SPEC.name) for raw in batch]
        if db == "sqlite":
            db_url = f"sqlite:///{work / 'projections.sqlite3'}"
        else:
            db_url = f"postgresql+asyncpg://postgres@127.0.0.1:5432/baton_batch_ab_{name}"
            await fresh_postgres(db_url)
        engine = make_engine(db_url)
        runners = [ProjectionRunner(p, engine, SPEC, registry, service="ab") for p in all_projections()]
        for runner in runners:
            await runner.setup()
        live = kept_connection()  # as a live feed writes: on the connection it keeps, if the tree has one
        for raw in raws[:WARM_UP]:
            await apply_together(runners, [raw], nc, **live)
        at = WARM_UP
        print("ready", flush=True)
        loop = asyncio.get_running_loop()
        while (line := await loop.run_in_executor(None, sys.stdin.readline)).startswith("go"):
            n = int(line.split()[1])
            cpu = time.process_time()
            for raw in raws[at : at + n]:
                await apply_together(runners, [raw], nc, **live)
            at += n
            print(f"{time.process_time() - cpu:.6f}", flush=True)
        if live:
            await live["kept"].close()
        await engine.dispose()
        await nc.close()
    finally:
        stop_process(proc)


def kept_connection() -> dict:
    try:
        from baton_shared.projections.write_transactions import KeptConnection
    except ImportError:  # a tree from before aee6c9e
        return {}
    return {"kept": KeptConnection()}


def compare(base: str, db: str, rounds: int, batch: int) -> None:
    events = WARM_UP + rounds * batch + 10
    with tempfile.TemporaryDirectory(prefix="batch-ab-base-") as tree:
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-f", tree, base], check=True)
        try:
            sides = {}
            for name, path in (("base", Path(tree)), ("new", ROOT)):
                env = {**os.environ, "PYTHONPATH": source_path(path)}
                command = [sys.executable, __file__, "--worker", name, "--db", db, "--events", str(events)]
                sides[name] = subprocess.Popen(
                    command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
                )
            for name, side in sides.items():
                if side.stdout.readline().strip() != "ready":
                    raise SystemExit(f"{name} did not start")
            took: dict[str, list[float]] = {"base": [], "new": []}
            for r in range(rounds):
                for name in ("base", "new") if r % 2 == 0 else ("new", "base"):
                    sides[name].stdin.write(f"go {batch}\n")
                    sides[name].stdin.flush()
                    took[name].append(float(sides[name].stdout.readline()) / batch * 1e6)
            for side in sides.values():
                side.stdin.close()
                side.wait(timeout=60)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", tree], check=False)
    ratios = [new / old for old, new in zip(took["base"], took["new"], strict=True)]
    print(f"CPU per single-event batch, intake's projections on {db}, {rounds} rounds of {batch}:")
    for name, label in (("base", f"base {base}"), ("new", "this tree")):
        v = took[name]
        print(f"  {label:<22} median {statistics.median(v):6.0f} us, range {min(v):.0f}-{max(v):.0f}")
    print(
        f"  new / base per round    median {statistics.median(ratios):.3f}, range {min(ratios):.3f}-{max(ratios):.3f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="HEAD", help="the commit to compare with")
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--batch", type=int, default=300, help="batches per side per round")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--events", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        asyncio.run(worker(args.db, args.worker, args.events))
    else:
        compare(args.base, args.db, args.rounds, args.batch)


if __name__ == "__main__":
    main()
