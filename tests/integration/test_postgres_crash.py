"""PostgreSQL crashes under load: no projection may be left with a hole.

Projections commit with ``synchronous_commit = off``: when PostgreSQL crash-restarts,
its last commits (rows and checkpoint together) are gone while the service, still
running, is past them in memory. The runner must then read the log again from the
stored checkpoint, not carry on from where it thought it was.

Real processes: nats-server and intake on a PostgreSQL the test owns. Sixteen clients
register clients (each with a note) while the server is crashed with
``pg_ctl stop -m immediate`` and started again 3 s later, twice. Afterwards every
projection must agree row for row with a clean rebuild (``baton projections verify``),
and every client registered with a 201 must be readable.
"""

from __future__ import annotations

import asyncio
import json
import time

import nats as nats_py
import pytest

from tests.integration.fault_injection.system import System
from tests.integration.fault_injection.workload import Api, Ledger

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.slow]

CLIENTS_AT_ONCE = 16
CRASHES = 2
ACKED_BETWEEN_CRASHES = 300


async def register_until(api: Api, stop: asyncio.Event, worker: int, registered: list[str]) -> None:
    n = 0
    while not stop.is_set():
        n += 1
        key = f"crash-{worker}-{n}"
        client = await api.write(
            "intake",
            "POST",
            "/v1/clients",
            {
                "name": f"Client {worker}/{n}",
                "segment": "B2B",
                "account_manager": "alice",
            },
            f"{key}-client",
        )
        cid = client["ids"]["client_id"]
        registered.append(cid)
        await api.write("intake", "POST", f"/v1/clients/{cid}/notes", {"text": "calls before nine"}, f"{key}-note")


async def until_acked(ledger: Ledger, count: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while ledger.acked < count:
        assert time.monotonic() < deadline, f"only {ledger.acked} writes acknowledged, {count} expected"
        await asyncio.sleep(0.05)


async def test_a_postgresql_crash_under_load_leaves_no_projection_behind(tmp_path):
    system = System(tmp_path, services=("intake",))
    ledger = Ledger()
    try:
        await system.start()
        api = Api({"intake": system.base("intake")}, ledger)
        stop, registered = asyncio.Event(), []
        load = [asyncio.create_task(register_until(api, stop, w, registered)) for w in range(CLIENTS_AT_ONCE)]
        try:
            for _ in range(CRASHES):
                await until_acked(ledger, ledger.acked + ACKED_BETWEEN_CRASHES)
                system.crash_postgres()
                await asyncio.sleep(3)
                await asyncio.to_thread(system.start_postgres)
            await until_acked(ledger, ledger.acked + ACKED_BETWEEN_CRASHES)
        finally:
            stop.set()
            await asyncio.gather(*load)

        nc = await nats_py.connect(system.nats.url)
        try:
            await system.settle(nc)
        finally:
            await nc.close()
        health = await system.health("intake")
        went_back = {p["projection"]: p.get("went_back") for p in health["projections"]}
        missing = []
        for cid in registered:
            answer = await api.http["intake"].get(f"/v1/clients/{cid}")
            if answer.status_code != 200:
                missing.append((cid, answer.status_code))
        await api.close()
        system.services["intake"].stop()  # checkpoints flushed, nothing moving

        verify = system.baton("projections", "verify", "--json")
        verified = json.loads(verify.stdout) if verify.stdout.strip().startswith("[") else []
        differing = [r["projection"] for r in verified if not r["agrees"]]
        print(
            f"\n{system.own_postgres.crashes} crashes, {ledger.acked} writes acknowledged, "
            f"{len(registered)} clients registered, {len(missing)} not readable, "
            f"checkpoints found gone back {went_back}, projections differing from a clean rebuild: {differing}"
        )
        assert system.own_postgres.crashes == CRASHES
        assert not missing, f"{len(missing)} registered clients not readable: {missing[:10]}"
        assert verify.returncode == 0 and verified and not differing, verify.stdout[-3000:] + verify.stderr[-3000:]
    finally:
        system.stop()
