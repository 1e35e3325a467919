"""Reactions per second as delivery's replicas grow (1 → 2 → 4), on the 3-node cluster.

The cluster is the compose cluster profile run as local processes (its config, routes, users
and permissions; streams with three replicas), as ``tests/integration/test_nats_cluster.py``
runs it, with PostgreSQL for delivery's projections. For each replica count: a backlog of
``--handoffs`` handoffs (a client, a request and its handoff each) is written to intake's
stream while no delivery runs, then that many delivery processes start, their reaction split
into ``--partitions`` partitions, and the bench times how fast the reaction's consumers drain:
causes handled per second from the moment every replica answers ``/health``, the CPU the
delivery processes and the NATS nodes spent per cause, and how the causes were shared out.

    .venv/bin/python bench/reaction_scaling.py --handoffs 3000 --replicas 1,2,4 --partitions 4
    .venv/bin/python bench/reaction_scaling.py --cpu-per-replica 0.1 --kill-one

On a host with fewer cores than replicas, replicas compete for the same cores and adding one
adds no capacity. ``--cpu-per-replica`` holds each delivery process to that share of a core
(``cpu_limit.py``: a cgroup each, as a container's CPU limit), so that each replica is a fixed
amount of capacity, as on a host with a core per replica. ``--kill-one`` adds a last round with
the most replicas in which one replica holding partitions is killed (SIGKILL) once half the
backlog is handled. Every work order opened is checked at the end: once each, none missing.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import nats as nats_py  # noqa: E402

from baton_shared.contracts import STREAMS, registry  # noqa: E402
from baton_shared.contracts import intake as ev  # noqa: E402
from baton_shared.eventstore.jetstream import JetStreamEventStore  # noqa: E402
from baton_shared.eventstore.provisioning import consumer_info, js_api, provision_stream  # noqa: E402
from baton_shared.eventstore.reader import read_stream  # noqa: E402
from baton_shared.reactions.runner import durable_name  # noqa: E402
from baton_shared.service.settings import inbox_prefix  # noqa: E402
from baton_intake.application import CaptureNeed, IntakeApplication, RegisterClient, RequestHandoff  # noqa: E402
from tests.conftest import free_port, nats_server_binary  # noqa: E402
from tests.integration.compose import Compose  # noqa: E402
from tests.integration.deployed import (  # noqa: E402
    NatsNode,
    ServiceProcess,
    fresh_database,
    get,
    map_database,
    run_one_shot,
    service_env,
    wait_until,
)
from tests.integration.test_compose_run import compose_settings  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from calibration import python_kloops_per_s  # noqa: E402
from common import cpu_seconds, loadavg  # noqa: E402
from cpu_limit import CpuLimit  # noqa: E402

NODES = ("nats", "nats-2", "nats-3")
PG = "postgresql+asyncpg://postgres@127.0.0.1:5432/baton_scaling"


async def write_handoffs(store: JetStreamEventStore, n: int, start: int, concurrency: int = 48) -> None:
    app = IntakeApplication(store)
    due = ev.WorkItem(department="design", scope="do it", due_by=date(2027, 6, 1))
    queue = iter(range(start, start + n))

    async def worker() -> None:
        for i in queue:
            client = await app.register_client(RegisterClient(name=f"Client {i}", segment="B2B", account_manager="al"))
            request = await app.capture_need(CaptureNeed(client_id=client.ids["client_id"], summary="s"))
            await app.request_handoff(RequestHandoff(request_id=request.ids["request_id"], work=(due,)))

    await asyncio.gather(*(worker() for _ in range(concurrency)))


async def behind(nc, durables: list[str], target: int) -> bool:
    """Whether a partition's consumer has not yet acknowledged every cause up to ``target``
    (every consumer passes every cause: its partition's handled, the others acknowledged)."""
    for durable in durables:
        info = await consumer_info(nc, "INTAKE", durable)
        if info is None or int(info["ack_floor"]["stream_seq"]) < target:
            return True
    return False


def handled(procs: list[ServiceProcess]) -> list[dict]:
    shares = []
    for proc in procs:
        if proc.proc.poll() is not None:
            continue
        _, health = get(f"{proc.base}/health")
        mine = [r for r in health.get("reactions", []) if r["reaction"].endswith("intake_requests")]
        held = [r.get("partition", "all") for r in mine if r["pinned"]]
        shares.append({"replica": proc.name, "handled": sum(r["handled"] for r in mine), "pinned": held})
    return shares


async def run(args) -> dict:
    binary = nats_server_binary()
    settings = compose_settings()
    work = Path(tempfile.mkdtemp(prefix="baton-scaling-"))
    compose = Compose.load("docker-compose.yml", "docker-compose.cluster.yml", env=settings, secrets_dir=work / "s")
    services = compose.services
    nodes = {n: NatsNode(binary, services[n], work / n) for n in NODES}
    routes = {f"{n}:6222": f"127.0.0.1:{nodes[n].cluster_port}" for n in NODES}
    clients = {f"{n}:4222": f"127.0.0.1:{nodes[n].port}" for n in NODES}
    urls = [f"nats://127.0.0.1:{node.port}" for node in nodes.values()]
    results: dict = {"handoffs_per_round": args.handoffs, "partitions": args.partitions, "rounds": []}
    procs: list[ServiceProcess] = []
    limits: list[CpuLimit] = []
    try:
        for node in nodes.values():
            node.env_hosts = routes
            node.start()
        wait_until(lambda: all(_node_up(n) for n in nodes.values()), 60, "the cluster formed")
        await fresh_database(map_database(services["delivery"].environment["BATON_DATABASE_URL"], PG))
        run_one_shot(compose, "delivery-migrate", clients, PG)
        intake_nc = await nats_py.connect(
            urls, user="intake", password=settings["BATON_INTAKE_NATS_PASSWORD"], inbox_prefix=inbox_prefix("intake")
        )
        ops = await nats_py.connect(
            urls, user="ops", password=settings["BATON_OPS_NATS_PASSWORD"], inbox_prefix=inbox_prefix("ops")
        )
        await provision_stream(intake_nc, STREAMS["intake"], replicas=3)
        store = JetStreamEventStore(intake_nc, STREAMS["intake"], registry, replicas=3)
        durables = [durable_name("delivery", "intake_requests", k, args.partitions) for k in range(args.partitions)]
        written = 0
        rounds = [(r, False) for r in args.replicas] + ([(max(args.replicas), True)] if args.kill_one else [])
        for replicas, kill in rounds:
            t = time.perf_counter()
            await write_handoffs(store, args.handoffs, written)
            written += args.handoffs
            seeded_s = time.perf_counter() - t
            env = {"BATON_REACTION_PARTITIONS": str(args.partitions), "BATON_LOG_LEVEL": args.log_level}
            procs, limits = [], []
            for n in range(replicas):
                e = {**service_env(services["delivery"], clients, PG, free_port()), **env}
                procs.append(ServiceProcess(f"delivery-{n}", services["delivery"].command, e, work / f"d{n}.log"))
            for proc in procs:
                proc.start()
                if args.cpu_per_replica:
                    limits.append(CpuLimit(f"baton-scaling-{proc.name}", args.cpu_per_replica))
                    limits[-1].add(proc.proc.pid)
            for proc in procs:
                wait_until(proc.healthy, 300, f"{proc.name} healthy")
            started = time.perf_counter()
            target = int((await js_api(ops, "STREAM.INFO.INTAKE"))["state"]["last_seq"])
            before = sum(share["handled"] for share in handled(procs))
            cpu0 = {p.name: cpu_seconds(p.proc.pid) for p in procs}
            nats0 = sum(cpu_seconds(n.proc.pid) for n in nodes.values())
            throttled0 = sum(limit.throttled_s() for limit in limits)
            killed: dict = {}
            next_look = 0.0  # for the replica to kill: its /health, four times a second
            while await behind(ops, durables, target):
                now = time.perf_counter() - started
                if now > args.timeout:
                    raise TimeoutError(f"causes left after {args.timeout} s with {replicas} replicas")
                if kill and not killed and now >= next_look:
                    next_look = now + 0.25
                    shares = handled(procs)
                    if sum(share["handled"] for share in shares) - before >= args.handoffs // 2:
                        killed = kill_one(procs, shares, cpu0, started)
                await asyncio.sleep(0.05)
            took = time.perf_counter() - started
            cpu = {p.name: cpu_seconds(p.proc.pid) - cpu0[p.name] for p in procs if p.proc.poll() is None}
            cpu.update(killed.get("cpu", {}))
            nats_cpu = sum(cpu_seconds(n.proc.pid) for n in nodes.values()) - nats0
            shares = handled(procs) + killed.get("shares", [])
            # every cause of the backlog was handled once (checked at the end); a replica's count
            # also holds what it handled again after a kill, and the killed one's stops at its
            # last /health, read before the kill
            in_window = args.handoffs - before
            round_ = {
                "replicas": replicas,
                "cpu_per_replica": args.cpu_per_replica,
                "seeded_s": round(seeded_s, 1),
                "handled_before_all_healthy": before,
                "handled_in_window": in_window,
                "window_s": round(took, 2),
                "causes_per_s": round(in_window / took, 1),
                "delivery_cpu_ms_per_cause": round(sum(cpu.values()) / in_window * 1000, 2),
                "nats_cpu_ms_per_cause": round(nats_cpu / in_window * 1000, 2),
                "delivery_throttled_s": round(sum(limit.throttled_s() for limit in limits) - throttled0, 2),
                "shares": shares,
                "killed": {k: v for k, v in killed.items() if k in ("replica", "at_s", "handled")},
                "after_kill_s": round(took - killed["at_s"], 2) if killed else None,
                "loadavg": loadavg(),
            }
            if args.idle_seconds:  # each replica's own work with no cause to handle
                alive = [p for p in procs if p.proc.poll() is None]
                idle0 = {p.name: cpu_seconds(p.proc.pid) for p in alive}
                await asyncio.sleep(args.idle_seconds)
                round_["idle_cpu_ms_per_s"] = {
                    p.name: round((cpu_seconds(p.proc.pid) - idle0[p.name]) / args.idle_seconds * 1000, 1)
                    for p in alive
                }
            results["rounds"].append(round_)
            print(json.dumps(round_), flush=True)
            for proc in procs:
                proc.stop()
            for limit in limits:
                limit.remove()
        opened = collections.Counter()
        async for batch in read_stream(ops, "DELIVERY", filter_subject="delivery.*.*.WorkOrderOpened"):
            for raw in batch:
                opened[registry.decode("DELIVERY", raw.seq, raw.subject, raw.data).event.work_order_id] += 1
        results["work_orders_opened"] = len(opened)
        results["opened_twice"] = sum(1 for c in opened.values() if c > 1)
        assert len(opened) == written and results["opened_twice"] == 0, (len(opened), written, results["opened_twice"])
        await intake_nc.close()
        await ops.close()
    finally:
        for proc in procs:
            proc.stop()
        for limit in limits:
            limit.remove()
        for node in nodes.values():
            node.stop()
    return results


def kill_one(procs: list[ServiceProcess], shares: list[dict], cpu0: dict, started: float) -> dict:
    """SIGKILL the replica holding the most partitions: no hand-over, no acknowledgement."""
    share = max(shares, key=lambda s: len(s["pinned"]))
    proc = next(p for p in procs if p.name == share["replica"])
    share = handled([proc])[0]  # the count as near the kill as can be read
    at_s = time.perf_counter() - started
    cpu = cpu_seconds(proc.proc.pid) - cpu0[proc.name]
    proc.proc.kill()
    proc.proc.wait(10)
    print(f"killed {proc.name} at {at_s:.1f} s, holding {share['pinned']}", flush=True)
    return {
        "replica": proc.name,
        "at_s": round(at_s, 2),
        "handled": share["handled"],
        "shares": [share],
        "cpu": {proc.name: cpu},
    }


def _node_up(node: NatsNode) -> bool:
    try:
        return get(f"http://127.0.0.1:{node.monitor}/healthz", timeout=2)[0] == 200
    except OSError:
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--handoffs", type=int, default=3000, help="causes in each round's backlog")
    parser.add_argument("--replicas", default="1,2,4", help="delivery replicas per round, comma-separated")
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument(
        "--cpu-per-replica", type=float, help="hold each delivery process to this share of a core (0.15: 15 %%)"
    )
    parser.add_argument(
        "--idle-seconds", type=float, default=5, help="after each round, the replicas' CPU with nothing to do"
    )
    parser.add_argument(
        "--kill-one", action="store_true", help="a last round with the most replicas, one killed halfway"
    )
    parser.add_argument(
        "--log-level", default="warning", help="the delivery processes' (their logs stay in the work folder)"
    )
    args = parser.parse_args()
    args.replicas = [int(r) for r in args.replicas.split(",")]
    cal = {"python_kloops_per_s": python_kloops_per_s()}
    print(f"calibration: {cal}", flush=True)
    results = asyncio.run(run(args))
    results["calibration"] = cal
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
