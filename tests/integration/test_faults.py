"""Faults while Baton works: nothing acknowledged is lost, nothing happens twice.

Real processes on loopback: nats-server, intake, delivery and follow-up, each on its own
database of a PostgreSQL server the test starts (and can crash), reached through a TCP
proxy the test controls. Client journeys send more than 10,000 writes across the three
services while faults are injected, drawn from a seed (``fault_injection.schedule``;
printed, and ``BATON_FAULT_SEED=<seed>`` replays the same schedule). Every run has:

- nats-server SIGKILLed and started again (same port, same store);
- nats-server stalled with SIGSTOP for a few seconds, then SIGCONT;
- PostgreSQL unreachable for a few seconds (every connection reset, new ones refused);
- PostgreSQL crashed (``pg_ctl stop -m immediate``: its unwritten WAL lost) and restarted;
- delivery and follow-up SIGKILLed in the middle of their work, then started again;

and one more of these drawn at random, in a random order at random points of the load.
A second test runs on a three-node NATS cluster (streams with three replicas) with two
delivery replicas: one NATS node is killed, one delivery replica is killed and a node is
stalled, during the load.

The load retries what was not answered (or answered "try again") with the same
``Idempotency-Key``, as a careful client does. Once everything has settled, the log is
audited (``fault_injection.audit``) and every projection of every service is compared
row for row with a clean rebuild by ``baton projections verify``; nothing may be parked,
and no answer may be a 5xx other than 503.

Bounded: 480 journeys (about 10,300 writes), 24 at a time, on one node; 160 on the
cluster; every wait with a deadline. The figures are printed (``pytest -s``); with
``BATON_FAULT_RECORD=<file>`` each run also appends them to that file as a JSON line.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import nats as nats_py
import pytest

from tests.integration.fault_injection.audit import (
    Log,
    acknowledged_writes_exactly_once,
    duplicate_event_ids,
    reactions_once,
)
from tests.integration.fault_injection.schedule import CLUSTER, SINGLE_NODE, PlannedFault, describe, draw, fault_seed
from tests.integration.fault_injection.system import SERVICES, System
from tests.integration.fault_injection.workload import Api, Ledger, run_journeys

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.slow]

JOURNEYS, CONCURRENCY = 480, 24
CLUSTER_JOURNEYS, CLUSTER_CONCURRENCY = 160, 16
WRITES_PER_JOURNEY = 21.5  # on average (see workload.client_journey)
MIN_COMMANDS = 10_000


@dataclass
class Fault:
    what: str
    after_acked: int
    at_acked: int = 0
    seconds: float = 0.0
    in_flight: int = 0  # requests the broken part had on hand when it broke


async def inject(
    system: System, api: Api, ledger: Ledger, done: asyncio.Event, plan: list[PlannedFault], expected: int
) -> list[Fault]:
    nodes, replicas = len(system.nodes), system.replicas.get("delivery", 1)

    async def kill_nats(planned: PlannedFault, fault: Fault) -> None:
        fault.in_flight = sum(api.in_flight.values())
        system.kill_nats(planned.target)
        await asyncio.sleep(planned.seconds)
        await asyncio.to_thread(system.start_nats, planned.target)

    async def stall_nats(planned: PlannedFault, fault: Fault) -> None:
        fault.in_flight = sum(api.in_flight.values())
        system.stall_nats(planned.target)
        await asyncio.sleep(planned.seconds)
        system.resume_nats(planned.target)

    async def kill_service(planned: PlannedFault, fault: Fault) -> None:
        service = planned.kind.removeprefix("kill_")
        process = system.processes(service)[planned.target]
        fault.in_flight = api.in_flight[service]
        system.kill_service(process)
        await asyncio.sleep(planned.seconds)
        system.start_service(process)
        await system.wait_healthy([process], timeout=90)

    async def cut_postgres(planned: PlannedFault, fault: Fault) -> None:
        fault.in_flight = sum(api.in_flight.values())
        system.proxy.cut()
        await asyncio.sleep(planned.seconds)
        system.proxy.restore()

    async def crash_postgres(planned: PlannedFault, fault: Fault) -> None:
        fault.in_flight = sum(api.in_flight.values())
        await asyncio.to_thread(system.crash_postgres)
        await asyncio.sleep(planned.seconds)
        await asyncio.to_thread(system.start_postgres)

    actions = {
        "nats_kill": kill_nats,
        "nats_stall": stall_nats,
        "postgres_cut": cut_postgres,
        "postgres_crash": crash_postgres,
        "kill_intake": kill_service,
        "kill_delivery": kill_service,
        "kill_followup": kill_service,
    }
    injected = []
    for planned in plan:
        fault = Fault(describe(planned, nodes=nodes, replicas=replicas), int(expected * planned.at))
        while ledger.acked < fault.after_acked:
            if done.is_set():
                return injected
            await asyncio.sleep(0.02)
        fault.at_acked, started = ledger.acked, time.monotonic()
        await actions[planned.kind](planned, fault)
        fault.seconds = round(time.monotonic() - started, 1)
        injected.append(fault)
    return injected


def _spread(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    ordered = sorted(seconds)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    return f"p50 {at(0.5):.0f} ms, p99 {at(0.99):.0f} ms, max {ordered[-1]:.1f} s ({len(ordered):,} reads)"


def report(rows: list[tuple[str, object]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


async def run_under_faults(
    system: System,
    plan: list[PlannedFault],
    *,
    seed: int,
    mode: str,
    journeys: int,
    concurrency: int,
    min_commands: int,
    min_projections: int,
) -> None:
    print(f"\nfault test ({mode}): BATON_FAULT_SEED={seed} replays this schedule", flush=True)
    system.folder.mkdir(parents=True, exist_ok=True)
    (system.folder / "fault-seed").write_text(f"BATON_FAULT_SEED={seed}\n")  # found beside the logs of a stalled run
    ledger = Ledger()
    try:
        await system.start()
        api = Api({name: system.base(name) for name in SERVICES}, ledger)
        done = asyncio.Event()
        started = time.monotonic()
        injector = asyncio.create_task(inject(system, api, ledger, done, plan, int(journeys * WRITES_PER_JOURNEY)))
        try:
            await run_journeys(api, journeys, concurrency)
        finally:
            done.set()
            faults = await injector
            await api.close()
        load_seconds = time.monotonic() - started

        nc = await nats_py.connect(system.nats_url.split(","), max_reconnect_attempts=-1)
        try:
            heads = await system.settle(nc)
            for process in system.services.values():  # checkpoints flushed, nothing moving
                process.stop()
            log = await Log.read(nc, system.names)
        finally:
            await nc.close()

        lost_or_doubled = acknowledged_writes_exactly_once(ledger, log)
        lost = [p for p in lost_or_doubled if "stored 0 times" in p]
        duplicates = duplicate_event_ids(log)
        reactions = reactions_once(log)
        verify = system.baton("projections", "verify", "--json")
        verified = json.loads(verify.stdout) if verify.stdout.strip().startswith("[") else []
        parked = system.baton("parked", "list", "--json")
        parked_rows = json.loads(parked.stdout) if parked.returncode == 0 else parked.stderr

        sent = len(ledger.commands)
        acked = sum(c.acked for c in ledger.commands)
        mismatched = [r["projection"] for r in verified if not r["agrees"]]
        rows_differing = sum(
            (t.get("differing_rows") or 0) + abs(t.get("live_rows", 0) - t.get("copy_rows", 0))
            for r in verified
            for t in r.get("tables", {}).values()
        )
        server_errors = {f"{s} {code}": n for (s, code), n in ledger.answers.items() if code >= 500 and code != 503}
        print(
            f"fault test ({mode}, tests/integration/test_faults.py)\n"
            + report(
                [
                    ("seed", f"BATON_FAULT_SEED={seed}"),
                    *[
                        (
                            f"fault {i + 1}",
                            f"{f.what}: after {f.at_acked:,} acked, {f.seconds} s, {f.in_flight} requests in flight",
                        )
                        for i, f in enumerate(faults)
                    ],
                    ("load", f"{journeys} journeys, {concurrency} at a time, {load_seconds:.0f} s"),
                    ("commands sent", f"{sent:,} ({sum(c.attempts for c in ledger.commands):,} attempts)"),
                    ("commands acknowledged", f"{acked:,}"),
                    ("answers", dict(sorted((f"{s} {code}", n) for (s, code), n in ledger.answers.items()))),
                    (
                        "transport errors",
                        dict(sorted((f"{s} {e}", n) for (s, e), n in ledger.transport_errors.items())),
                    ),
                    ("events stored", f"{log.count():,} { {k: len(v) for k, v in log.streams.items()} } heads {heads}"),
                    ("acked writes not exactly once", f"{len(lost_or_doubled)} ({len(lost)} lost)"),
                    ("duplicate event ids", len(duplicates)),
                    (
                        "reactions",
                        "; ".join(
                            f"{r.name}: {r.causes} causes, {len(r.effects_missing)} missing, "
                            f"{len(r.effects_doubled)} doubled"
                            for r in reactions
                        ),
                    ),
                    (
                        "projections verified",
                        (
                            f"{len(verified)}, {len(mismatched)} differ from a clean rebuild {mismatched}, "
                            f"{rows_differing} rows differing"
                        ),
                    ),
                    ("parked", parked_rows if parked_rows else 0),
                    ("5xx other than 503", server_errors or 0),
                    (
                        "proxy",
                        (
                            f"{system.proxy.connections_reset} connections reset, "
                            f"{system.proxy.refused_while_down} refused while down"
                        ),
                    ),
                    ("reaction results readable after", _spread(ledger.waits)),
                    ("journeys that failed", f"{len(ledger.failed_journeys)} {ledger.failed_journeys[:3]}"),
                ]
            )
        )
        record = os.environ.get("BATON_FAULT_RECORD")
        if record:
            with Path(record).open("a") as out:  # noqa: ASYNC230 - one line, after the load
                out.write(
                    json.dumps(
                        {
                            "mode": mode,
                            "seed": seed,
                            "faults": [f.what for f in faults],
                            "planned": len(plan),
                            "load_seconds": round(load_seconds),
                            "sent": sent,
                            "acked": acked,
                            "lost": len(lost),
                            "duplicated": len(lost_or_doubled) - len(lost) + len(duplicates),
                            "reactions_missing": sum(len(r.effects_missing) for r in reactions),
                            "reactions_doubled": sum(len(r.effects_doubled) for r in reactions),
                            "projections": len(verified),
                            "differing": mismatched,
                            "rows_differing": rows_differing,
                            "parked": parked_rows,
                            "server_errors": server_errors,
                            "failed_journeys": len(ledger.failed_journeys),
                        }
                    )
                    + "\n"
                )

        assert not ledger.failed_journeys, ledger.failed_journeys[:10]
        assert not server_errors, f"faults must answer 503 (retry), never fail: {server_errors}"
        assert len(faults) == len(plan), f"only {len(faults)} of {len(plan)} faults injected before the load ended"
        assert sent >= min_commands and acked == sent
        assert not lost_or_doubled, lost_or_doubled[:20]
        assert not duplicates, duplicates[:20]
        assert all(r.ok for r in reactions), [(r.name, r.effects_missing[:5], r.effects_doubled[:5]) for r in reactions]
        assert verify.returncode == 0 and len(verified) >= min_projections and not mismatched, (
            verify.stdout[-3000:] + verify.stderr[-3000:]
        )
        assert parked_rows == [], parked_rows
    finally:
        system.stop()


async def test_nothing_acknowledged_is_lost_and_nothing_happens_twice_under_faults(tmp_path):
    seed = fault_seed()
    await run_under_faults(
        System(tmp_path),
        draw(seed, SINGLE_NODE),
        seed=seed,
        mode="one node",
        journeys=JOURNEYS,
        concurrency=CONCURRENCY,
        min_commands=MIN_COMMANDS,
        min_projections=15,
    )


async def test_nothing_acknowledged_is_lost_on_a_cluster_losing_a_node_and_a_delivery_replica(tmp_path):
    seed = fault_seed()
    system = System(tmp_path, replicas={"delivery": 2}, nats_nodes=3)
    plan = draw(seed, CLUSTER, extra=0, nodes=3, replicas=2)
    await run_under_faults(
        system,
        plan,
        seed=seed,
        mode="3-node cluster",
        journeys=CLUSTER_JOURNEYS,
        concurrency=CLUSTER_CONCURRENCY,
        min_commands=int(CLUSTER_JOURNEYS * 20),
        min_projections=15,
    )
