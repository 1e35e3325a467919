"""Faults while Baton works: nothing acknowledged is lost, nothing happens twice.

Real processes on loopback: nats-server, intake, delivery and follow-up (each on its own
PostgreSQL database reached through a TCP proxy the test controls). Client journeys
send more than 10,000 writes across the three services while the test:

1. SIGKILLs nats-server and starts it again (same port, same store);
2. SIGKILLs delivery in the middle of its work, then starts it again;
3. makes PostgreSQL unreachable for 6 seconds (every connection reset, new ones refused);
4. SIGKILLs nats-server and starts it again, a second time;
5. SIGKILLs follow-up in the middle of its work, then starts it again.

The load retries what was not answered (or answered "try again") with the same
``Idempotency-Key``, as a careful client does. Once everything has settled, the log is
audited (``fault_injection.audit``) and every projection of every service is compared
row for row with a clean rebuild by ``baton projections verify``; nothing may be parked.

Bounded: 480 journeys (about 10,300 writes), 24 at a time, every wait with a deadline.
The figures are printed (``pytest -s``) for the closing note of issue 7.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import nats as nats_py
import pytest

from baton_shared.eventstore.provisioning import js_api
from tests.integration.fault_injection.audit import Log, acknowledged_writes_exactly_once, duplicate_event_ids, reactions_once
from tests.integration.fault_injection.system import SERVICES, System
from tests.integration.fault_injection.workload import Api, Ledger, run_journeys

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.slow]

JOURNEYS, CONCURRENCY = 480, 24
WRITES_PER_JOURNEY = 21.5  # on average (see workload.client_journey)
MIN_COMMANDS = 10_000


@dataclass
class Fault:
    what: str
    after_acked: int
    at_acked: int = 0
    seconds: float = 0.0
    in_flight: int = 0  # requests the broken part had on hand when it broke


async def inject(system: System, api: Api, ledger: Ledger, done: asyncio.Event) -> list[Fault]:
    async def kill_nats(fault: Fault) -> None:
        fault.in_flight = sum(api.in_flight.values())
        system.kill_nats()
        await asyncio.sleep(2)
        await asyncio.to_thread(system.start_nats)

    def kill_service(name: str):  # noqa: ANN202
        async def action(fault: Fault) -> None:
            fault.in_flight = api.in_flight[name]
            system.kill_service(name)
            await asyncio.sleep(1)
            system.start_service(name)
            await system.wait_healthy([name], timeout=90)
        return action

    async def cut_postgres(fault: Fault) -> None:
        fault.in_flight = sum(api.in_flight.values())
        system.proxy.cut()
        await asyncio.sleep(6)
        system.proxy.restore()

    expected = JOURNEYS * WRITES_PER_JOURNEY
    plan = [
        (Fault("nats-server SIGKILL, restarted after 2 s", int(expected * 0.15)), kill_nats),
        (Fault("delivery SIGKILL mid-batch, restarted", int(expected * 0.32)), kill_service("delivery")),
        (Fault("PostgreSQL unreachable for 6 s (proxy resets)", int(expected * 0.48)), cut_postgres),
        (Fault("nats-server SIGKILL again, restarted after 2 s", int(expected * 0.65)), kill_nats),
        (Fault("follow-up SIGKILL mid-batch, restarted", int(expected * 0.80)), kill_service("followup")),
    ]
    injected = []
    for fault, action in plan:
        while ledger.acked < fault.after_acked:
            if done.is_set():
                return injected
            await asyncio.sleep(0.02)
        fault.at_acked, started = ledger.acked, time.monotonic()
        await action(fault)
        fault.seconds = round(time.monotonic() - started, 1)
        injected.append(fault)
    return injected


def _spread(seconds: list[float]) -> str:
    if not seconds:
        return "-"
    ordered = sorted(seconds)
    at = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000  # noqa: E731
    return f"p50 {at(0.5):.0f} ms, p99 {at(0.99):.0f} ms, max {ordered[-1]:.1f} s ({len(ordered):,} reads)"


def report(rows: list[tuple[str, object]]) -> str:
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"  {k.ljust(width)}  {v}" for k, v in rows)


async def test_nothing_acknowledged_is_lost_and_nothing_happens_twice_under_faults(tmp_path, postgres_url):
    system = System(tmp_path, postgres_url)
    ledger = Ledger()
    try:
        await system.start()
        api = Api({name: system.base(name) for name in SERVICES}, ledger)
        done = asyncio.Event()
        started = time.monotonic()
        injector = asyncio.create_task(inject(system, api, ledger, done))
        try:
            await run_journeys(api, JOURNEYS, CONCURRENCY)
        finally:
            done.set()
            faults = await injector
            await api.close()
        load_seconds = time.monotonic() - started

        nc = await nats_py.connect(system.nats.url)
        try:
            heads = await system.settle(nc)
            for process in system.services.values():  # checkpoints flushed, nothing moving
                process.stop()
            log = await Log.read(nc)
        finally:
            await nc.close()

        lost_or_doubled = acknowledged_writes_exactly_once(ledger, log)
        duplicates = duplicate_event_ids(log)
        reactions = reactions_once(log)
        verify = system.baton("projections", "verify", "--json")
        verified = json.loads(verify.stdout) if verify.stdout.strip().startswith("[") else []
        parked = system.baton("parked", "list", "--json")
        parked_rows = json.loads(parked.stdout) if parked.returncode == 0 else parked.stderr

        sent = len(ledger.commands)
        acked = sum(c.acked for c in ledger.commands)
        mismatched = [r["projection"] for r in verified if not r["agrees"]]
        print("\nfault test (tests/integration/test_faults.py)\n" + report([
            *[(f"fault {i + 1}", f"{f.what}: after {f.at_acked:,} acked, {f.seconds} s, "
                                 f"{f.in_flight} requests in flight") for i, f in enumerate(faults)],
            ("load", f"{JOURNEYS} journeys, {CONCURRENCY} at a time, {load_seconds:.0f} s"),
            ("commands sent", f"{sent:,} ({sum(c.attempts for c in ledger.commands):,} attempts)"),
            ("commands acknowledged", f"{acked:,}"),
            ("answers", dict(sorted((f"{s} {code}", n) for (s, code), n in ledger.answers.items()))),
            ("transport errors", dict(sorted((f"{s} {e}", n) for (s, e), n in ledger.transport_errors.items()))),
            ("events stored", f"{log.count():,} {dict((k, len(v)) for k, v in log.streams.items())} heads {heads}"),
            ("acked writes not exactly once", len(lost_or_doubled)),
            ("duplicate event ids", len(duplicates)),
            ("reactions", "; ".join(f"{r.name}: {r.causes} causes, {len(r.effects_missing)} missing, "
                                    f"{len(r.effects_doubled)} doubled" for r in reactions)),
            ("projections verified", f"{len(verified)}, {len(mismatched)} differ from a clean rebuild"),
            ("proxy", f"{system.proxy.connections_reset} connections reset, "
                      f"{system.proxy.refused_while_down} refused while down"),
            ("reaction results readable after", _spread(ledger.waits)),
            ("journeys that failed", f"{len(ledger.failed_journeys)} {ledger.failed_journeys[:3]}"),
        ]))

        assert not ledger.failed_journeys, ledger.failed_journeys[:10]
        server_errors = {k: n for k, n in ledger.answers.items() if k[1] >= 500 and k[1] != 503}
        assert not server_errors, f"faults must answer 503 (retry), never fail: {server_errors}"
        assert len(faults) == 5, f"only {len(faults)} faults injected before the load ended"
        assert sent >= MIN_COMMANDS and acked == sent
        assert not lost_or_doubled, lost_or_doubled[:20]
        assert not duplicates, duplicates[:20]
        assert all(r.ok for r in reactions), [(r.name, r.effects_missing[:5], r.effects_doubled[:5]) for r in reactions]
        assert verify.returncode == 0 and len(verified) >= 15 and not mismatched, verify.stdout[-3000:] + verify.stderr[-3000:]
        assert parked_rows == [], parked_rows
    finally:
        system.stop()
