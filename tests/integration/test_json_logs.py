"""One log format on stderr: a service's own lines, uvicorn's and Alembic's are all JSON objects."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

from tests.conftest import free_port
from tests.integration.services import ADMIN, TEST_TOKENS


def json_lines(stderr: str) -> list[dict]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    parsed = []
    for line in lines:
        try:
            parsed.append(json.loads(line))
        except ValueError:
            pytest.fail(f"a stderr line is not JSON: {line!r}\n--- all of stderr:\n{stderr}")
    assert all(isinstance(p, dict) and "event" in p and "level" in p and "timestamp" in p for p in parsed), parsed
    return parsed


def test_a_migration_logs_alembic_s_lines_as_json(tmp_path):
    env = {
        **os.environ,
        "BATON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}",
        "BATON_LOG_LEVEL": "INFO",
        "BATON_LOG_FORMAT": "json",
        "BATON_DATA_DIR": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-m", "baton_delivery", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = json_lines(done.stderr)
    alembic = [line for line in lines if line.get("logger", "").startswith("alembic")]
    assert any("Running upgrade" in line["event"] for line in alembic), lines
    assert any(line["event"] == "database migrated" for line in lines), lines


@pytest.mark.nats
def test_a_running_service_logs_uvicorn_s_lines_as_json(nats_url, tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "BATON_NATS_URL": nats_url,
        "BATON_HTTP_PORT": str(port),
        "BATON_LOG_LEVEL": "INFO",
        "BATON_LOG_FORMAT": "json",
        "BATON_TOKENS": TEST_TOKENS,
        "BATON_DATA_DIR": str(tmp_path),
        "BATON_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}",
    }
    service = subprocess.Popen(
        [sys.executable, "-m", "baton_delivery"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and service.poll() is None:
            try:
                request = urllib.request.Request(f"http://127.0.0.1:{port}/health", headers=ADMIN)
                with urllib.request.urlopen(request, timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("delivery did not answer /health within 60 s")
    finally:
        service.send_signal(signal.SIGINT)
        _, stderr = service.communicate(timeout=60)
    lines = json_lines(stderr)
    uvicorn = [line for line in lines if line.get("logger", "").startswith("uvicorn")]
    assert any("Uvicorn running on" in line["event"] for line in uvicorn), lines
    assert any("Shutting down" in line["event"] or "shutdown" in line["event"].lower() for line in uvicorn), lines
    assert any(line["event"] == "service started" and line.get("service") == "delivery" for line in lines), lines
