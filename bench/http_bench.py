"""Figures through the services' HTTP APIs, the services running as in ``make run``
(the embedded runner: nats-server, one process per service, SQLite projections).

- write commands per second per service: ``concurrency`` keep-alive connections
  issuing that service's commands back to back (closed loop), p50/p99 latency, with
  the service process alone on the machine and with all three services running;
- end to end: intake's handoff POST until the work order is readable on
  delivery's API, at a fixed rate (open loop). The bench watches delivery's
  stream for the ``WorkOrderOpened`` (an ordered consumer) and then asks
  delivery for the work order with ``min_position`` = its sequence, which
  answers as soon as delivery's projection has applied it: one GET per
  handoff, no polling load on the machine being measured.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import itertools
import json
import os
import random
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import date, timedelta
from pathlib import Path

from common import ROOT, cpu_seconds, free_port, latency_summary
import loadgen
from loadgen import Connection, Done, closed_loop, split

SERVICES = {"intake": 8001, "delivery": 8002, "followup": 8003, "notify": 8004}  # the embedded run's
CONSOLE = "console"  # started too when installed: paused and counted like the services
DUE = (date.today() + timedelta(days=60)).isoformat()


def runnable(service: str) -> bool:
    return importlib.util.find_spec(f"baton_{service}.__main__") is not None


class Embedded:
    """The embedded run in a temporary data folder on free ports."""

    def __init__(self, data: Path, env: dict[str, str] | None = None) -> None:
        self.data = data
        self.nats_port = free_port()
        self.offset = self._free_offset()
        # An admin token for the bench, accepted by services that check tokens.
        token = secrets.token_urlsafe(24)
        loadgen.DEFAULT_HEADERS["Authorization"] = f"Bearer {token}"
        tokens = json.dumps([{"name": "bench", "role": "admin", "token": token}])
        self.env = {**os.environ, "BATON_TOKENS": tokens, **(env or {})}
        self.proc: subprocess.Popen | None = None

    @staticmethod
    def _free_offset() -> int:
        import socket

        for _ in range(200):
            offset = random.randint(20_000, 40_000)
            ok = True
            for port in (*SERVICES.values(), 8000):  # 8000: the console, when installed
                with socket.socket() as s:
                    try:
                        s.bind(("127.0.0.1", port + offset))
                    except OSError:
                        ok = False
            if ok:
                return offset
        raise RuntimeError("no free ports")

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{SERVICES[service] + self.offset}"

    @property
    def nats_url(self) -> str:
        return f"nats://127.0.0.1:{self.nats_port}"

    def start(self, services: list[str], timeout: float = 90) -> None:
        self.data.mkdir(parents=True, exist_ok=True)
        log = open(self.data / "embedded.log", "ab")  # noqa: SIM115 - lives as long as the process
        self.proc = subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "deploy/embedded/run.py"),
                "--data-dir",
                str(self.data),
                "--nats-port",
                str(self.nats_port),
                "--port-offset",
                str(self.offset),
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        for service in services:
            while True:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"embedded run exited ({self.proc.returncode}); see {self.data / 'embedded.log'}"
                    )
                try:
                    request = urllib.request.Request(f"{self.url(service)}/health", headers=loadgen.DEFAULT_HEADERS)
                    with urllib.request.urlopen(request, timeout=1) as r:
                        if r.status == 200:
                            break
                except Exception:  # noqa: BLE001 - not up yet
                    pass
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{service} not healthy; see {self.data / 'embedded.log'}")
                time.sleep(0.2)

    def pids(self) -> dict[str, int]:
        """Process id per service (children of the runner), for profilers."""
        out = {}
        if self.proc is None:
            return out
        for line in subprocess.run(
            ["ps", "-o", "pid=,args=", "--ppid", str(self.proc.pid)], capture_output=True, text=True
        ).stdout.splitlines():
            pid, _, args = line.strip().partition(" ")
            for service in (*SERVICES, CONSOLE):
                if f"baton_{service}" in args:
                    out[service] = int(pid)
            if "nats-server" in args:
                out["nats-server"] = int(pid)
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- write commands per service -------------------------------------------------


def intake_script():
    async def script(i: int, call) -> None:  # noqa: ANN001
        r = await call(
            "POST",
            "/v1/clients",
            {"name": f"Client {i}", "segment": "B2B", "account_manager": "alice", "annual_revenue": "250000"},
            201,
        )
        cid = r["ids"]["client_id"]
        await call("POST", f"/v1/clients/{cid}/notes", {"text": "prefers e-mail, never before 10"}, 201)
        r = await call(
            "POST",
            f"/v1/clients/{cid}/requests",
            {"summary": "a house", "requirements": {"floors": 2}, "budget": "400000"},
            201,
        )
        rid = r["ids"]["request_id"]
        await call("POST", f"/v1/requests/{rid}/clarifications", {"question": "heating?", "answer": "heat pump"}, 201)
        await call("POST", f"/v1/clients/{cid}/notes", {"text": "two children, plans a home office"}, 201)

    return script


async def prepare_work_orders(intake: str, delivery: str, requests: int, departments: int = 4) -> list[list[str]]:
    """``requests`` requests handed to ``departments`` departments each, through intake;
    waits until delivery has opened every work order. Returns work order ids per request."""
    host, port = split(intake)
    out: list[list[str]] = []
    queue = list(range(requests))

    async def worker() -> None:
        conn = Connection(host, port)
        try:
            r = await conn.json(
                "POST", "/v1/clients", {"name": "Prep", "segment": "B2B", "account_manager": "alice"}, 201
            )
            cid = r["ids"]["client_id"]
            while queue:
                queue.pop()
                r = await conn.json("POST", f"/v1/clients/{cid}/requests", {"summary": "prep"}, 201)
                rid = r["ids"]["request_id"]
                work = [{"department": f"dept{d}", "scope": "bench", "due_by": DUE} for d in range(departments)]
                r = await conn.json("POST", f"/v1/requests/{rid}/handoffs", {"work": work}, 201)
                out.append(r["ids"]["handoff_ids"])
        finally:
            conn.close()

    await asyncio.gather(*(worker() for _ in range(8)))
    dhost, dport = split(delivery)
    conn = Connection(dhost, dport)
    deadline = time.monotonic() + 120
    try:
        for ids in out:
            for wo in ids:
                while (await conn.request("GET", f"/v1/work-orders/{wo}"))[0] != 200:
                    if time.monotonic() > deadline:
                        raise TimeoutError("delivery did not open the prepared work orders")
                    await asyncio.sleep(0.01)
    finally:
        conn.close()
    return out


def delivery_script(prepared: list[list[str]]):
    pool = list(prepared)

    async def script(i: int, call) -> None:  # noqa: ANN001
        if not pool:
            raise Done  # every prepared work order is done: the window ends early (reported)
        for wo in pool.pop():
            base = f"/v1/work-orders/{wo}"
            await call("POST", f"{base}/accept", {"member": f"member{i}"})
            await call("POST", f"{base}/start", {})
            await call("POST", f"{base}/progress", {"note": "foundations poured", "percent": 40})
            await call("POST", f"{base}/block", {"reason": "waiting for the permit"})
            await call("POST", f"{base}/unblock", {})
            await call("POST", f"{base}/progress", {"note": "walls up", "percent": 90})
            await call("POST", f"{base}/complete", {"note": "done"})

    return script


async def prepare_followup_clients(intake: str, followup: str, clients: int) -> list[str]:
    """Clients registered through intake, once follow-up accepts commands about them."""
    host, port = split(intake)
    conn = Connection(host, port)
    ids = []
    try:
        for n in range(clients):
            r = await conn.json(
                "POST", "/v1/clients", {"name": f"Followed {n}", "segment": "B2B", "account_manager": "alice"}, 201
            )
            ids.append(r["ids"]["client_id"])
    finally:
        conn.close()
    fhost, fport = split(followup)
    conn = Connection(fhost, fport)
    deadline = time.monotonic() + 60
    try:
        for cid in ids:  # the first satisfaction record is the readiness probe (untimed)
            while (await conn.request("POST", f"/v1/clients/{cid}/satisfaction", {"score": 5}))[0] != 201:
                if time.monotonic() > deadline:
                    raise TimeoutError("follow-up did not learn of the prepared clients")
                await asyncio.sleep(0.05)
    finally:
        conn.close()
    return ids


def followup_script(clients: list[str]):
    turn = itertools.count()

    async def script(i: int, call) -> None:  # noqa: ANN001
        cid = clients[next(turn) % len(clients)]  # every client in turn (not one per connection)
        await call("POST", f"/v1/clients/{cid}/satisfaction", {"score": 4, "comment": "on time, as promised"}, 201)

    return script


QUIET_CPU = 0.25  # of one core, all of Baton's processes together: what "settled" allows


async def settle(embedded: Embedded, timeout: float = 120) -> float:
    """Wait until every running service's projections have applied their streams' heads, its
    scheduled jobs (follow-up's planner) have finished a pass and run none now, and the
    processes together use under ``QUIET_CPU`` of a core (two polls in a row), so neither a
    backlog nor the work after a start (statistics, report warming) loads the next
    measurement. Returns the seconds it took (bounded by ``timeout``)."""
    t = time.monotonic()
    quiet = 0
    cpu_before, cpu_at = None, time.monotonic()
    while time.monotonic() - t < timeout and quiet < 2:
        lag = 0
        running = embedded.pids()  # one `ps` per poll
        cpu_now, now = sum(cpu_seconds(pid) for pid in running.values()), time.monotonic()
        if cpu_before is not None and (cpu_now - cpu_before) > QUIET_CPU * (now - cpu_at):
            lag += 1  # busy: not settled yet
        cpu_before, cpu_at = cpu_now, now
        for service in SERVICES:
            if service not in running:
                continue
            try:
                request = urllib.request.Request(f"{embedded.url(service)}/health", headers=loadgen.DEFAULT_HEADERS)
                body = await asyncio.to_thread(
                    lambda r=request: json.loads(urllib.request.urlopen(r, timeout=5).read())
                )
                lag += sum(p["lag"] for p in body["projections"])
                lag += sum(
                    1
                    for job in body.get("schedules", ())
                    if job["running"] or not job["passes"] or job.get("waiting_for_read_models")
                )
            except Exception:  # noqa: BLE001 - busy or restarting: not settled yet
                lag += 1
        quiet = quiet + 1 if lag == 0 else 0
        await asyncio.sleep(0.5)
    return time.monotonic() - t


@contextlib.contextmanager
def paused(pids: list[int]):
    """SIGSTOP the given processes for the block, SIGCONT them after (they catch up then)."""
    for pid in pids:
        os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)


async def measure_writes(embedded: Embedded, service: str, script, concurrency: int, seconds: float) -> dict:
    """Throughput and latency over ``seconds`` of ``concurrency`` connections, then each
    process's CPU per command over a second, shorter window of the same load (CPU time
    per command is what other load on the machine hardly changes)."""
    load_before = os.getloadavg()[0]
    pids = embedded.pids()
    t = time.perf_counter()
    result = await closed_loop(embedded.url(service), concurrency, seconds, script, warmup=1.0)
    elapsed = time.perf_counter() - t - 1.0  # the warm-up second
    lat = result["latencies"]
    cpu0 = {k: cpu_seconds(v) for k, v in pids.items()}
    probe = await closed_loop(embedded.url(service), concurrency, min(3.0, seconds), script, warmup=0.0)
    cpu1 = {k: cpu_seconds(v) for k, v in pids.items()}
    n = max(len(probe["latencies"]), 1)
    return {
        "commands_per_s": len(lat) / min(seconds, max(elapsed, 1e-9)),
        "concurrency": concurrency,
        **latency_summary(lat),
        "cpu_ms_per_command": {k: round(1000 * (cpu1[k] - cpu0[k]) / n, 3) for k in pids},
        "errors": result["errors"],
        "error_samples": result["error_samples"],
        "load_before": round(load_before, 2),
    }


async def writes(
    embedded: Embedded, services: list[str], concurrency: int, seconds: float, expected_rate: float = 1500
) -> dict:
    """Each service's write workload measured twice:

    - ``alone``: the service process with the machine to itself (nats-server running, the
      other Baton services paused with SIGSTOP for the window; they catch up after). This
      is the per-service-process figure the target is about;
    - ``system``: all three services running, so the reactions and projections the writes
      cause in the other services share the two cores (what a one-box deployment gets).
    """
    out = {}
    for service in services:
        if service == "intake":
            script = intake_script()
        elif service == "delivery":
            # two windows and their CPU probes, at up to ``expected_rate``, 7 commands per work order
            per_request = 4 * 7
            requests = int(expected_rate * 2 * (seconds + 1 + 3) / per_request * 1.2) + concurrency
            prepared = await prepare_work_orders(embedded.url("intake"), embedded.url("delivery"), requests)
            script = delivery_script(prepared)
        elif service == "followup":
            # Enough clients that each collects tens of satisfaction records over both windows,
            # as a real client might over years: a relationship's row keeps its whole list
            # (each connection rated one client of 64 over and over: ~1,000 records each,
            # and each record rewrote a growing JSON list).
            clients = await prepare_followup_clients(embedded.url("intake"), embedded.url("followup"), concurrency * 64)
            script = followup_script(clients)
        else:
            out[service] = {"skipped": f"no write workload for {service}"}
            continue
        out[service] = await alone_and_system(embedded, service, script, concurrency, seconds)
    return out


async def alone_and_system(embedded: Embedded, service: str, script, concurrency: int, seconds: float) -> dict:  # noqa: ANN001
    """``script``'s writes to ``service`` with everything running, then with the other Baton
    services paused (nats-server runs): the per-process figure."""
    await settle(embedded)  # the preparation's background work
    system = await measure_writes(embedded, service, script, concurrency, seconds)
    await settle(embedded)
    others = [pid for name, pid in embedded.pids().items() if name not in (service, "nats-server")]
    with paused(others):
        alone = await measure_writes(embedded, service, script, concurrency, seconds)
    alone["settled_after_s"] = round(await settle(embedded), 1)
    return {"alone": alone, "system": system}


# --- end to end: handoff until readable on delivery -----------------------------


async def handoff_e2e(embedded: Embedded, rate: float, seconds: float, warmup: float = 1.0) -> dict:
    import nats as nats_py
    from nats.js.api import ConsumerConfig, DeliverPolicy

    intake, delivery = embedded.url("intake"), embedded.url("delivery")
    total = int(rate * (seconds + warmup))
    ihost, iport = split(intake)
    prep = Connection(ihost, iport)
    r = await prep.json("POST", "/v1/clients", {"name": "Bench", "segment": "B2B", "account_manager": "alice"}, 201)
    cid = r["ids"]["client_id"]
    request_ids = []
    for _ in range(total):  # each handoff on a request of its own, opened untimed
        r = await prep.json("POST", f"/v1/clients/{cid}/requests", {"summary": "bench"}, 201)
        request_ids.append(r["ids"]["request_id"])
    prep.close()

    loop = asyncio.get_running_loop()
    opened: dict[str, asyncio.Future] = {rid: loop.create_future() for rid in request_ids}
    nc = await nats_py.connect(embedded.nats_url)
    js = nc.jetstream()

    async def on_opened(msg) -> None:  # noqa: ANN001
        rid = msg.subject.split(".")[2]
        fut = opened.get(rid)
        if fut is not None and not fut.done():
            fut.set_result(msg.metadata.sequence.stream)

    sub = await js.subscribe(
        "delivery.request.*.WorkOrderOpened",
        cb=on_opened,
        ordered_consumer=True,
        stream="DELIVERY",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.NEW),
    )
    await asyncio.sleep(0.5)  # the pause between preparing and measuring
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    dhost, dport = split(delivery)
    for _ in range(64):
        pool.put_nowait(Connection(ihost, iport))
    dpool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        dpool.put_nowait(Connection(dhost, dport))
    e2e: list[float] = []
    post: list[float] = []
    failures: list[str] = []

    async def one(n: int, rid: str, scheduled: float) -> None:
        # latency counts from the scheduled send, not from when a connection came free
        # (coordinated omission): a send held up by the system is part of what it costs
        conn = await pool.get()
        started = scheduled
        try:
            status, body = await conn.request(
                "POST",
                f"/v1/requests/{rid}/handoffs",
                {"work": [{"department": "design", "scope": "bench", "due_by": DUE}]},
            )
        finally:
            pool.put_nowait(conn)
        posted = time.perf_counter()
        if status != 201:
            failures.append(f"POST {status} {body[:200]!r}")
            return
        import orjson

        wo = orjson.loads(body)["ids"]["handoff_ids"][0]
        seq = await asyncio.wait_for(opened[rid], 30)
        dconn = await dpool.get()
        try:
            status, body = await dconn.request("GET", f"/v1/work-orders/{wo}?min_position={seq}")
        finally:
            dpool.put_nowait(dconn)
        done = time.perf_counter()
        if status != 200:
            failures.append(f"GET {status} {body[:200]!r}")
            return
        if n >= rate * warmup:
            e2e.append((done - started) * 1000)
            post.append((posted - started) * 1000)

    tasks = []
    pids = {**embedded.pids(), "bench": os.getpid()}
    cpu0 = {k: cpu_seconds(v) for k, v in pids.items()}
    t0 = time.perf_counter()
    late = 0
    behind_ms = 0.0
    for n, rid in enumerate(request_ids):
        scheduled = t0 + n / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.005:
            late += 1
            behind_ms = max(behind_ms, -delay * 1000)
        tasks.append(asyncio.create_task(one(n, rid, scheduled)))
    achieved = total / max(time.perf_counter() - t0, 1e-9) if total < 2 else (total - 1) / (time.perf_counter() - t0)
    outcomes = await asyncio.gather(*tasks, return_exceptions=True)
    completed_per_s = total / (time.perf_counter() - t0)
    cpu1 = {k: cpu_seconds(v) for k, v in pids.items()}
    failures += [repr(x) for x in outcomes if isinstance(x, BaseException)]
    await sub.unsubscribe()
    await nc.close()
    for q in (pool, dpool):
        while not q.empty():
            q.get_nowait().close()
    return {
        "rate_target": rate,
        "rate_achieved": achieved,
        "completed_per_s": completed_per_s,
        "sends_late_over_5ms": late,
        "sends_most_behind_schedule_ms": round(behind_ms, 1),
        "latency_clock": "from each handoff's scheduled send (t0 + n / rate)",
        "failures": len(failures),
        "failure_samples": failures[:3],
        "handoff_to_readable": latency_summary(e2e),
        "post_to_intake": latency_summary(post),
        # CPU per handoff (its POST, the reaction, the GET) per process; "bench" is the load generator.
        "cpu_ms_per_handoff": {k: round(1000 * (cpu1[k] - cpu0[k]) / total, 3) for k in pids},
    }
