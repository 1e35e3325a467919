"""Does a figure grow with the log? The same figures on a young log and on a large one, in one run.

    .venv/bin/python bench/large_log.py --events 1000000          # what fits this machine
    .venv/bin/python bench/large_log.py --events 10000000         # issue #23's size (200,000+ clients)

Both logs are the same realistic history, only longer: per client (47 events over the three streams)
intake's registration, three nuances and two requests (need, clarification, handoff to two
departments); delivery's two work orders per request run to completion, the handover and its
acceptance; follow-up's relationship, tier, a satisfaction follow-up per request (contacted, scored,
closed) and one open review due somewhere in the last or next 180 days. Ids agree across streams
(work order id = handoff id, ``handoff_event_id`` = the handoff's event id), and a sample of every
event type is decoded through the registry before anything is written.

Seeding is direct JetStream publishes with the subjects and ``Nats-Msg-Id`` headers the event store
uses (about 20-30k events/s here), into the embedded run's own store while its services are stopped;
the reactions' durable consumers are then placed after the seeded history (as if the services had
reacted to it already), and the services start: their projections catch up from the log.

Then, per log: ``/health``, the agenda page (every manager's, then one manager's), a client's timeline page, a never-loaded aggregate
(a note on a seeded client no process has loaded), ``baton trace`` of one client, the handoff p99 at a
modest rate, writes per second per service (``http_bench.writes``), and a rebuild of intake's clients
projection into PostgreSQL. The table prints large / young per figure against the targets: latencies
within 1.25x, the rebuild rate within 0.8x.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import nats as nats_py  # noqa: E402
import orjson  # noqa: E402

from baton_shared.contracts import STREAMS, registry  # noqa: E402
from baton_shared.contracts import delivery as dv  # noqa: E402
from baton_shared.contracts import followup as fu  # noqa: E402
from baton_shared.contracts import intake as ik  # noqa: E402
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api, provision_stream  # noqa: E402
from baton_shared.projections.machine_share import default_parts  # noqa: E402

import calibration  # noqa: E402
import http_bench  # noqa: E402
import loadgen  # noqa: E402
from common import (
    DEFAULT_PG,
    ROOT,
    fresh_postgres,
    latency_summary,
    loadavg,
    postgres_reachable,
    start_nats,
    stop_process,
)  # noqa: E402

EVENTS_PER_CLIENT = 47
LATENCY_TARGET = 1.25  # large / young, at most
RATE_TARGET = 0.8  # large / young, at least


def log(msg: str) -> None:
    print(f"[large-log {time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}] {msg}", flush=True)


# --- the history ------------------------------------------------------------------


class History:
    """One client's history on the three streams, as (subject, body, event id)."""

    def __init__(self, seed: int = 23) -> None:
        self.rng = random.Random(seed)
        self.today = date.today()
        self.base = datetime.now(timezone.utc) - timedelta(days=720)

    def _event(
        self,
        event,
        aggregate_id: str,
        at: datetime,
        correlation: str,
        causation: str | None = None,
        event_id: str | None = None,
    ) -> tuple[str, bytes, str]:  # noqa: ANN001
        event_id = event_id or str(uuid.uuid4())
        env = {
            "event_id": event_id,
            "event_type": event.event_type,
            "schema_version": event.schema_version,
            "aggregate_type": event.aggregate_type,
            "aggregate_id": aggregate_id,
            "occurred_at": at.isoformat().replace("+00:00", "Z"),
            "correlation_id": correlation,
            "causation_id": causation,
            "actor": "seed",
            "payload": event.model_dump(mode="json"),
        }
        subject = STREAMS[event.service].subject(event.aggregate_type, aggregate_id, event.event_type)
        return subject, orjson.dumps(env), event_id

    def client(self, n: int) -> tuple[str, list[tuple[str, bytes, str]]]:
        rng = self.rng
        cid = str(uuid.uuid4())
        manager = f"am{n % 25}"
        at = self.base + timedelta(minutes=rng.randrange(0, 60 * 24 * 360))
        step = timedelta(hours=1)
        out = []
        e = self._event
        revenue = rng.randrange(50_000, 5_000_000)
        reg = e(
            ik.ClientRegistered(
                client_id=cid,
                name=f"Client {n}",
                segment="B2B",
                account_manager=manager,
                business_description="builds houses",
                annual_revenue=revenue,
            ),
            cid,
            at,
            cid,
        )
        out.append(reg)
        out.append(
            e(
                fu.RelationshipStarted(
                    client_id=cid, client_name=f"Client {n}", account_manager=manager, annual_revenue=revenue
                ),
                cid,
                at + step,
                cid,
                reg[2],
            )
        )
        out.append(
            e(
                fu.ClientTiered(
                    client_id=cid,
                    tier="key" if n % 10 == 0 else "standard",
                    review_every_days=90,
                    annual_revenue=revenue,
                    reason="seeded",
                ),
                cid,
                at + step,
                cid,
                reg[2],
            )
        )
        for k in range(3):
            out.append(
                e(
                    ik.ClientNoteAdded(client_id=cid, note_id=str(uuid.uuid4()), text=f"nuance {k}", author=manager),
                    cid,
                    at + k * step,
                    cid,
                )
            )
        for r in range(2):
            rid = str(uuid.uuid4())
            t = at + timedelta(days=10 + 60 * r)
            out.append(
                e(
                    ik.NeedCaptured(
                        request_id=rid, client_id=cid, summary="a house", requirements={"floors": 2}, budget=400_000
                    ),
                    rid,
                    t,
                    rid,
                )
            )
            out.append(
                e(
                    ik.ClarificationRecorded(request_id=rid, client_id=cid, question="heating?", answer="heat pump"),
                    rid,
                    t + step,
                    rid,
                )
            )
            work = []
            for dept in ("design", "build"):
                wo = str(uuid.uuid4())
                due = (t + timedelta(days=30)).date()
                h = e(
                    ik.HandoffRequested(
                        request_id=rid,
                        client_id=cid,
                        handoff_id=wo,
                        department=dept,
                        scope="bench",
                        due_by=due,
                        account_manager=manager,
                    ),
                    rid,
                    t + 2 * step,
                    rid,
                )
                out.append(h)
                work.append((wo, dept, due, h[2]))
            for wo, dept, due, cause in work:
                ids = dict(request_id=rid, client_id=cid, work_order_id=wo, department=dept)
                wt = t + 3 * step
                out.append(
                    e(
                        dv.WorkOrderOpened(
                            **ids, scope="bench", due_by=due, account_manager=manager, handoff_event_id=cause
                        ),
                        rid,
                        wt,
                        rid,
                        cause,
                    )
                )
                out.append(e(dv.WorkOrderAccepted(**ids, member="member1"), rid, wt + step, rid))
                out.append(e(dv.WorkOrderStarted(**ids), rid, wt + 2 * step, rid))
                out.append(e(dv.WorkOrderProgressed(**ids, note="walls up", percent=60), rid, wt + 3 * step, rid))
                out.append(
                    e(dv.WorkOrderCompleted(**ids, note="done", completed_at=wt + 4 * step), rid, wt + 4 * step, rid)
                )
            done = t + timedelta(days=20)
            out.append(
                e(
                    dv.RequestReadyForHandover(
                        request_id=rid, client_id=cid, handover_round=1, work_order_ids=tuple(w[0] for w in work)
                    ),
                    rid,
                    done,
                    rid,
                )
            )
            accepted = e(
                dv.DeliveryAccepted(
                    request_id=rid,
                    client_id=cid,
                    account_manager=manager,
                    satisfaction=5,
                    departments=("design", "build"),
                    handover_round=1,
                    accepted_at=done,
                ),
                rid,
                done + step,
                rid,
            )
            out.append(accepted)
            fid = str(uuid.uuid4())
            ft = done + timedelta(days=7)
            out.append(
                e(
                    fu.FollowUpScheduled(
                        client_id=cid,
                        follow_up_id=fid,
                        kind="satisfaction",
                        due_on=ft.date(),
                        reason="after delivery",
                        request_id=rid,
                    ),
                    cid,
                    done + 2 * step,
                    rid,
                    accepted[2],
                )
            )
            out.append(
                e(
                    fu.ContactRecorded(
                        client_id=cid,
                        contact_id=str(uuid.uuid4()),
                        follow_up_id=fid,
                        channel="phone",
                        outcome="reached",
                        contacted_at=ft,
                        by=manager,
                    ),
                    cid,
                    ft,
                    rid,
                )
            )
            out.append(
                e(
                    fu.SatisfactionRecorded(client_id=cid, score=4, request_id=rid, recorded_at=ft, by=manager),
                    cid,
                    ft,
                    rid,
                )
            )
            out.append(e(fu.FollowUpClosed(client_id=cid, follow_up_id=fid, reason="contacted"), cid, ft, rid))
        review = self.today + timedelta(days=rng.randrange(-180, 180))
        out.append(
            e(
                fu.FollowUpScheduled(
                    client_id=cid, follow_up_id=str(uuid.uuid4()), kind="review", due_on=review, reason="cadence"
                ),
                cid,
                at + timedelta(days=200),
                cid,
            )
        )
        assert len(out) == EVENTS_PER_CLIENT, len(out)
        return cid, out


def check_history() -> None:
    """Every event of a sample client decodes through the registry: what we write is what Baton reads."""
    _, events = History(seed=1).client(0)
    for subject, body, _ in events:
        service = subject.split(".", 1)[0]
        decoded = registry.decode(STREAMS[service].name, 1, subject, body)
        assert decoded.event is not None, subject


async def seed(nc, clients: int, window: int = 2048) -> dict:
    """Publish ``clients`` histories, ``window`` acknowledgements in flight. Returns a sample of client ids."""
    for spec in STREAMS.values():
        await provision_stream(nc, spec)
    history = History()
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
    sample: list[str] = []
    t = time.perf_counter()
    n = 0
    try:
        for c in range(clients):
            cid, events = history.client(c)
            if len(sample) < 2000 and c % max(1, clients // 2000) == 0:
                sample.append(cid)
            for subject, body, event_id in events:
                await sem.acquire()
                await nc.publish(subject, body, reply=f"{inbox}.{n}", headers={"Nats-Msg-Id": event_id})
                n += 1
            if c and c % 20_000 == 0:
                log(f"seeded {n:,} events ({n / (time.perf_counter() - t):,.0f}/s)")
        await nc.flush()
        deadline = time.monotonic() + 120
        while acked < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    finally:
        await sub.unsubscribe()
    if errors:
        raise RuntimeError(f"{len(errors)} publishes refused, e.g. {errors[0]!r}")
    return {"events": n, "clients": clients, "events_per_s": n / (time.perf_counter() - t), "sample": sample}


async def place_reactions_after_history(nc) -> list[str]:
    """Recreate every reaction's durable consumer (made by a first start on the empty log) to start after
    the stream's head: the seeded history holds the reactions' outcomes already."""
    moved = []
    for spec in STREAMS.values():
        head = (await js_api(nc, f"STREAM.INFO.{spec.name}"))["state"]["last_seq"]
        names = (await js_api(nc, f"CONSUMER.NAMES.{spec.name}", {})).get("consumers") or []
        for name in names:
            if "_react_" not in name:
                continue
            cfg = (await js_api(nc, f"CONSUMER.INFO.{spec.name}.{name}"))["config"]
            await js_api(nc, f"CONSUMER.DELETE.{spec.name}.{name}")
            cfg = {**cfg, "deliver_policy": "by_start_sequence", "opt_start_seq": head + 1}
            await js_api(
                nc, f"CONSUMER.CREATE.{spec.name}.{name}", {"stream_name": spec.name, "config": cfg, "action": "create"}
            )
            moved.append(f"{spec.name}.{name}@{head + 1}")
    return moved


# --- the figures -------------------------------------------------------------------


async def timed_gets(url: str, paths: list[str], expect: int = 200) -> dict:
    host, port = loadgen.split(url)
    conn = loadgen.Connection(host, port)
    took, errors = [], 0
    try:
        for path in paths:
            t = time.perf_counter()
            try:
                status, _ = await conn.request("GET", path)
            except OSError:  # refused or reset: counted, the next request reconnects
                conn.close()
                errors += 1
                await asyncio.sleep(0.1)
                continue
            took.append((time.perf_counter() - t) * 1000)
            errors += status != expect
    finally:
        conn.close()
    return {**latency_summary(took), "errors": errors}


async def cold_loads(url: str, clients: list[str]) -> dict:
    """A note on each of ``clients``, one at a time: each loads an aggregate no process has loaded."""
    host, port = loadgen.split(url)
    conn = loadgen.Connection(host, port)
    took, errors = [], 0
    try:
        for cid in clients:
            t = time.perf_counter()
            try:
                status, _ = await conn.request("POST", f"/v1/clients/{cid}/notes", {"text": "asked again"})
            except OSError:
                conn.close()
                errors += 1
                continue
            took.append((time.perf_counter() - t) * 1000)
            errors += status != 201
    finally:
        conn.close()
    return {**latency_summary(took), "errors": errors}


def trace_times(nats_url: str, data: Path, clients: list[str]) -> dict:
    baton = Path(sys.executable).parent / "baton"
    env = {**os.environ, "BATON_NATS_URL": nats_url, "BATON_DATA_DIR": str(data)}  # the services' databases
    took, errors = [], 0
    for cid in clients:
        t = time.perf_counter()
        done = subprocess.run([str(baton), "trace", cid, "--json"], env=env, capture_output=True)
        took.append((time.perf_counter() - t) * 1000)
        errors += done.returncode != 0
    return {**latency_summary(took), "errors": errors, "note": "wall time of the CLI process, start-up included"}


async def journey_times(nats_url: str, data: Path, clients: list[str]) -> dict:
    """What ``baton trace`` does after start-up: read one client's journey (baton_ops.journey)."""
    from baton_ops.journey import journey_events

    os.environ["BATON_DATA_DIR"] = str(data)  # where the ops tool finds the services' databases
    nc = await nats_py.connect(nats_url)
    took, steps = [], []
    try:
        for cid in clients:
            t = time.perf_counter()
            steps.append(len(await journey_events(nc, cid)))
            took.append((time.perf_counter() - t) * 1000)
    finally:
        await nc.close()
    return {**latency_summary(took), "events_per_journey": statistics.median(steps) if steps else 0}


async def rebuild_pg(nats_url: str, pg_url: str) -> dict:
    import projection_bench
    from baton_intake.projections import ClientsProjection

    await fresh_postgres(pg_url)
    nc = await nats_py.connect(nats_url)
    try:
        end = (await js_api(nc, "STREAM.INFO.INTAKE"))["state"]["last_seq"]
        figures = await projection_bench.catch_up(nc, pg_url, ClientsProjection, end, parts=default_parts())
    finally:
        await nc.close()
    return {**figures, "projection": "clients", "stream": "INTAKE"}


async def planner_status(embedded) -> dict:  # noqa: ANN001
    """Follow-up's planner as its /health shows it (catch-up waits for its first pass)."""
    conn = loadgen.Connection(*loadgen.split(embedded.url("followup")))
    try:
        body = await conn.json("GET", "/health", expect=200)
    finally:
        conn.close()
    return next((job for job in body["schedules"] if job["name"] == "planner"), {})


ENV = {"BATON_OVERDUE_CHECK_SECONDS": "3600", "BATON_EMBEDDED_READY_SECONDS": "3600"}
SERVICES = ["intake", "delivery", "followup"]


async def one_log(args, label: str, clients: int, workdir: Path, pg_url: str | None) -> dict:
    data = workdir / label
    embedded = http_bench.Embedded(data, ENV)
    out: dict = {"clients": clients}
    log(f"{label}: first start on the empty log (creates the consumers)")
    embedded.start(SERVICES)
    embedded.stop()
    proc, url = start_nats(data / "jetstream", embedded.nats_port)
    try:
        nc = await nats_py.connect(url)
        log(f"{label}: seeding {clients:,} clients ({clients * EVENTS_PER_CLIENT:,} events)")
        seeded = await seed(nc, clients)
        sample = seeded.pop("sample")
        out["seed"] = seeded
        out["reactions_moved"] = await place_reactions_after_history(nc)
        await nc.close()
    finally:
        stop_process(proc)
    log(f"{label}: {seeded['events']:,} events at {seeded['events_per_s']:,.0f}/s; services catch up")
    return await measure(args, label, data, out, sample, pg_url)


async def again(args, label: str, workdir: Path, pg_url: str | None) -> dict:
    """The figures of a log a run kept (``--keep``), measured again without seeding it."""
    data = workdir / label
    with sqlite3.connect(data / "intake.sqlite3") as db:
        clients = db.execute("SELECT count(*) FROM clients").fetchone()[0]
        sample = [cid for (cid,) in db.execute("SELECT client_id FROM clients ORDER BY random() LIMIT 1000")]
    proc, url = start_nats(data / "jetstream")
    try:
        nc = await nats_py.connect(url)
        events = 0
        for spec in STREAMS.values():
            with contextlib.suppress(JetStreamApiError):  # a stream the run never made
                events += (await js_api(nc, f"STREAM.INFO.{spec.name}"))["state"]["messages"]
        await nc.close()
    finally:
        stop_process(proc)
    log(f"{label}: measuring the kept log again ({events:,} events); services start")
    return await measure(args, label, data, {"clients": clients, "seed": {"events": events}}, sample, pg_url)


async def measure(args, label: str, data: Path, out: dict, sample: list[str], pg_url: str | None) -> dict:
    embedded = http_bench.Embedded(data, ENV)
    services = SERVICES
    t = time.perf_counter()
    embedded.start(SERVICES, timeout=3600)  # healthy once the projections caught up
    try:
        out["catch_up_s"] = round(time.perf_counter() - t + await http_bench.settle(embedded, timeout=3600), 1)
        out["planner"] = await planner_status(embedded)
        log(f"{label}: caught up in {out['catch_up_s']}s (planner {out['planner']}); measuring")
        rng = random.Random(7)
        picks = rng.sample(sample, min(len(sample), args.samples + 5))
        cold, traced, timeline = picks[: args.samples], picks[args.samples : args.samples + 3], picks
        f = out.setdefault("figures", {})
        f["health"] = {s: await timed_gets(embedded.url(s), ["/health"] * args.samples) for s in services}
        f["agenda"] = await timed_gets(embedded.url("followup"), ["/v1/agenda?limit=50"] * args.samples)
        f["agenda_manager"] = await timed_gets(
            embedded.url("followup"), ["/v1/agenda?limit=50&account_manager=am1"] * args.samples
        )
        f["agenda"]["total"] = (
            await loadgen.Connection(*loadgen.split(embedded.url("followup"))).json(
                "GET", "/v1/agenda?limit=1", expect=200
            )
        )["total"]
        f["timeline"] = await timed_gets(
            embedded.url("intake"), [f"/v1/clients/{c}/timeline?limit=100" for c in timeline[: args.samples]]
        )
        f["cold_load"] = await cold_loads(embedded.url("intake"), cold)
        f["trace"] = await asyncio.to_thread(trace_times, embedded.nats_url, data, traced)
        f["journey"] = await journey_times(embedded.nats_url, data, picks[: max(3, args.samples // 4)])
        await http_bench.settle(embedded)
        log(f"{label}: handoff end to end at {args.rate:.0f}/s for {args.e2e_seconds:.0f}s")
        f["e2e"] = await http_bench.handoff_e2e(embedded, args.rate, args.e2e_seconds)
        if not args.no_writes:
            await http_bench.settle(embedded)
            log(f"{label}: writes, {args.concurrency} connections, {args.seconds:.0f}s per service")
            f["writes"] = await http_bench.writes(embedded, services, args.concurrency, args.seconds)
        out["loadavg"] = loadavg()
    finally:
        embedded.stop()
    if pg_url:
        proc, url = start_nats(data / "jetstream")
        try:
            log(f"{label}: rebuild of intake's clients projection into PostgreSQL")
            out["figures"]["rebuild_pg"] = await rebuild_pg(url, pg_url)
        finally:
            stop_process(proc)
    return out


# --- the table ------------------------------------------------------------------------


def rows(young: dict, large: dict) -> list[tuple[str, float, float, float, str]]:
    """(figure, young, large, ratio, verdict) for every compared figure."""
    out = []

    def add(name: str, a: float | None, b: float | None, rate: bool = False) -> None:
        if a is None or b is None or not a:
            return
        ratio = b / a
        ok = ratio >= RATE_TARGET if rate else ratio <= LATENCY_TARGET
        target = f">= {RATE_TARGET}" if rate else f"<= {LATENCY_TARGET}"
        out.append((name, a, b, ratio, f"{'met' if ok else 'MISSED'} ({target})"))

    fy, fl = young["figures"], large["figures"]
    for s in fy["health"]:
        add(f"/health {s} p99 ms", fy["health"][s]["p99_ms"], fl["health"][s]["p99_ms"])
    for key, name in (
        ("agenda", "agenda page"),
        ("agenda_manager", "one manager's agenda page"),
        ("timeline", "timeline page"),
        ("cold_load", "never-loaded aggregate"),
        ("journey", "trace's journey read (in process)"),
        ("trace", "baton trace (process)"),
    ):
        add(f"{name} p50 ms", fy[key]["p50_ms"], fl[key]["p50_ms"])
        add(f"{name} p99 ms", fy[key]["p99_ms"], fl[key]["p99_ms"])
    add(
        "handoff -> readable p99 ms",
        fy["e2e"]["handoff_to_readable"]["p99_ms"],
        fl["e2e"]["handoff_to_readable"]["p99_ms"],
    )
    for s, w in fy.get("writes", {}).items():
        if "alone" in w and "alone" in fl["writes"].get(s, {}):
            add(f"writes/s {s} (alone)", w["alone"]["commands_per_s"], fl["writes"][s]["alone"]["commands_per_s"], True)
            add(f"writes p99 ms {s} (alone)", w["alone"]["p99_ms"], fl["writes"][s]["alone"]["p99_ms"])
    if "rebuild_pg" in fy and "rebuild_pg" in fl:
        add(
            "rebuild clients -> PostgreSQL ev/s",
            fy["rebuild_pg"]["rebuild_events_per_s"],
            fl["rebuild_pg"]["rebuild_events_per_s"],
            True,
        )
    return out


def first_pass(log: dict) -> str:
    last = log.get("planner", {}).get("last_pass") or {}
    recorded = sum(v for k, v in last.items() if isinstance(v, int))
    return f"{last.get('seconds', '?')}s ({recorded:,} recorded)"


def table(results: dict) -> str:
    y, big = results["young"], results["large"]
    lines = [
        f"large log {big['seed']['events']:,} events ({big['clients']:,} clients) vs young log {y['seed']['events']:,} "
        f"events ({y['clients']:,} clients)",
        f"calibration: {calibration.describe(results['calibration'])}; load {results['calibration']['loadavg']}",
        f"load after young {y.get('loadavg')}, after large {big.get('loadavg')}; "
        f"catch-up on start {y['catch_up_s']}s / {big['catch_up_s']}s, of which the planner's first pass "
        f"{first_pass(y)} / {first_pass(big)}",
        f"{'figure':42} {'young':>10} {'large':>10} {'ratio':>7}  verdict",
    ]
    for name, a, b, ratio, verdict in rows(y, big):
        lines.append(f"{name:42} {a:10.1f} {b:10.1f} {ratio:7.2f}  {verdict}")
    lines.append(
        f"agenda rows due: young {y['figures']['agenda']['total']:,}, large {big['figures']['agenda']['total']:,}"
    )
    return "\n".join(lines)


def save(results: dict) -> Path:
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    path = out / "large_log.json"
    path.write_text(json.dumps(results, indent=2, default=str))
    return path


async def main(args) -> dict:
    check_history()
    workdir = args.again or Path(tempfile.mkdtemp(prefix="baton-large-log-"))
    pg_url = None if args.no_postgres else os.environ.get("BATON_BENCH_DATABASE_URL", DEFAULT_PG)
    if pg_url and not await postgres_reachable(pg_url):
        log("PostgreSQL unreachable: no rebuild figure")
        pg_url = None
    results: dict = {"started": datetime.now(timezone.utc).isoformat(), "args": vars(args)}
    try:
        proc, url = start_nats(workdir / "jetstream-calibration")
        try:
            nc = await nats_py.connect(url)
            results["calibration"] = {
                "python_kloops_per_s": calibration.python_kloops_per_s(),
                "jetstream_round_trip": await calibration.jetstream_round_trip(nc),
                "loadavg": loadavg(),
            }
            await nc.close()
        finally:
            stop_process(proc)
        t = time.perf_counter()
        for label, clients in (("young", args.young_clients), ("large", max(1, args.events // EVENTS_PER_CLIENT))):
            if args.again:
                results[label] = await again(args, label, workdir, pg_url)
            else:
                results[label] = await one_log(args, label, clients, workdir, pg_url)
            save(results)  # a run cut off keeps what it measured
        results["seconds"] = round(time.perf_counter() - t)
    finally:
        if not args.keep and not args.again:
            shutil.rmtree(workdir, ignore_errors=True)
    return results


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--events", type=int, default=1_000_000, help="events in the large log (10,000,000 in issue #23)")
    p.add_argument("--young-clients", type=int, default=1_000, help="clients in the young log (47 events each)")
    p.add_argument("--samples", type=int, default=200, help="requests per latency figure")
    p.add_argument("--rate", type=float, default=50, help="handoffs per second for the end-to-end p99")
    p.add_argument("--e2e-seconds", type=float, default=10)
    p.add_argument("--concurrency", type=int, default=16)
    p.add_argument("--seconds", type=float, default=5, help="per write measurement")
    p.add_argument("--no-writes", action="store_true", help="skip writes per service (the longest part)")
    p.add_argument("--no-postgres", action="store_true")
    p.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    p.add_argument(
        "--again", type=Path, metavar="DIR", help="measure a kept folder (its young/ and large/ logs) again, unseeded"
    )
    args = p.parse_args()
    results = asyncio.run(main(args))
    save(results)
    print(table(results))
