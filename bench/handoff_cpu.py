"""Baton's CPU per handoff at a chosen rate, per process, and what each consumer is delivered.

    .venv/bin/python bench/handoff_cpu.py [--rate 200] [--seconds 15] [--rounds 1] [--writes]

Runs the embedded run (all services, SQLite) and drives handoffs as ``http_bench.handoff_e2e``
does (from the schedule, one GET each), then prints each process's CPU time per handoff and,
from every consumer's delivered count, how many deliveries a handoff made (the bench's own
subscription left out). ``--writes`` adds intake's write workload with every service running
(``http_bench.measure_writes``, 16 connections): what an intake command costs the whole system.
For A/B work on a handoff's messages at rates ``bench/run.py`` does not measure: run it from two
worktrees in turns.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from pathlib import Path

import calibration
import http_bench

NAMES = ["intake", "delivery", "followup", "notify", "nats-server"]


async def delivered(url: str) -> dict[str, int]:
    """Each durable consumer's count of its deliveries, by stream/consumer."""
    import nats

    from baton_shared.eventstore.provisioning import JetStreamApiError, js_api

    nc = await nats.connect(url)
    counts: dict[str, int] = {}
    try:
        for stream in ("INTAKE", "DELIVERY", "FOLLOWUP", "NOTIFY"):
            try:
                names = (await js_api(nc, f"CONSUMER.NAMES.{stream}"))["consumers"] or []
            except JetStreamApiError:
                continue  # not created yet
            for name in names:
                info = await js_api(nc, f"CONSUMER.INFO.{stream}.{name}")
                if info["config"].get("durable_name"):
                    counts[f"{stream}/{name}"] = int(info["delivered"]["consumer_seq"])
    finally:
        await nc.close()
    return counts


def line(label: str, cpu: dict[str, float]) -> str:
    return (
        f"{label:24s}"
        + "".join(f"{cpu.get(n, float('nan')):>12.3f}" for n in NAMES)
        + f"{sum(cpu[n] for n in NAMES):>12.3f}"
    )


async def main(args: argparse.Namespace) -> None:
    import nats

    embedded = http_bench.Embedded(Path(tempfile.mkdtemp(prefix="baton-handoff-cpu-")) / "data")
    embedded.start(list(http_bench.SERVICES))
    try:
        nc = await nats.connect(embedded.nats_url)
        round_trip = await calibration.jetstream_round_trip(nc)
        await nc.close()
        kloops = calibration.python_kloops_per_s()
        print(
            f"calibration: {calibration.describe({'python_kloops_per_s': kloops, 'jetstream_round_trip': round_trip})}"
        )
        print(f"{'':24s}" + "".join(f"{n:>12s}" for n in [*NAMES, "all"]))
        for n in range(args.rounds):
            await http_bench.settle(embedded)
            before = await delivered(embedded.nats_url)
            handoffs = await http_bench.handoff_e2e(embedded, args.rate, args.seconds)
            await http_bench.settle(embedded)
            after = await delivered(embedded.nats_url)
            count = int(args.rate * (args.seconds + 1.0))  # handoff_e2e's warm-up second included
            print(line(f"handoff at {args.rate:g}/s, #{n + 1}", handoffs["cpu_ms_per_handoff"]))
        print("\ndeliveries per handoff (the last round; each handoff's request captured just before it):")
        per = {key: (after[key] - before.get(key, 0)) / count for key in sorted(after)}
        for key, n in per.items():
            print(f"  {n:6.2f}  {key}")
        print(f"  {sum(per.values()):6.2f}  in all")
        if args.writes:
            await http_bench.settle(embedded)
            writes = await http_bench.measure_writes(embedded, "intake", http_bench.intake_script(), 16, args.seconds)
            print(f"\n{line('intake write, all running', writes['cpu_ms_per_command'])}")
            print(f"{'':24s}{writes['commands_per_s']:.0f} writes/s")
    finally:
        embedded.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--writes", action="store_true", help="also intake's writes with every service running")
    asyncio.run(main(parser.parse_args()))
