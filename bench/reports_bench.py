"""The head's reports over the facts of a large log: how long one month's report takes.

Fills follow-up's three report-fact projections (``report_facts``) in a fresh PostgreSQL
database with the rows a log of CLIENTS clients would leave (a year of it: REQUESTS per
client, each with one or two work orders and half of them accepted by the client, activity,
manager changes, reviews, programs; the events' worth is printed: 1.4M at the defaults,
the issue's 100k clients and 1M events), bulk-inserted rather than folded (the fold's
speed is the projection bench's business), then times each report for one month: its computation (p50/p90/p99/max of ``--runs``), and
a page of 200 rows served from the kept computation as the API does (``ReportSnapshots``):

    .venv/bin/python bench/reports_bench.py [--clients 100000] [--requests 1] [--runs 20]
        [--url postgresql+asyncpg://postgres@127.0.0.1:5432/baton_bench_reports]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import time

import orjson
from datetime import date, datetime, timedelta, timezone

from baton_shared.projections.sql import insert_new, make_engine
from baton_shared.service.garbage_collection import tune_garbage_collection

from baton_followup.projections.report_facts import ReportsFromDelivery, ReportsFromFollowup, ReportsFromIntake
from baton_followup.reports import REPORTS, Facts, Period
from baton_followup.reports.figures import Filters
from baton_followup.reports.snapshots import ReportSnapshots
from calibration import python_kloops_per_s
from common import fresh_postgres, latency_summary

YEAR = datetime(2026, 1, 1, tzinfo=timezone.utc)
DEPARTMENTS = ("design", "construction", "logistics", "support", "finance")
KINDS = ("contact", "contact", "refused", "offered", "won", "declined", "outcome", "acknowledged")


def moment(rng: random.Random) -> datetime:
    return YEAR + timedelta(seconds=rng.randrange(365 * 86400))


def rows_for(n: int, requests: int = 1, seed: int = 21) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    managers = [f"manager{i:02}" for i in range(20)]
    out: dict[str, list[dict]] = {
        k: []
        for k in (
            "report_clients",
            "report_relationships",
            "report_manager_changes",
            "report_requests",
            "report_handoffs",
            "report_work_orders",
            "report_deliveries",
            "report_activity",
            "report_follow_ups",
            "report_programs",
        )
    }
    seq = 0
    for c in range(n):
        cid, manager, segment = f"c{c:07}", rng.choice(managers), rng.choice(("B2B", "B2C"))
        out["report_clients"].append(
            {
                "client_id": cid,
                "name": f"Client {c}",
                "segment": segment,
                "account_manager": manager,
                "registered_at": YEAR,
            }
        )
        out["report_relationships"].append(
            {"client_id": cid, "account_manager": manager, "tier": "key" if rng.random() < 0.2 else "standard"}
        )
        if rng.random() < 0.4:
            seq += 1
            out["report_manager_changes"].append(
                {
                    "seq": seq,
                    "client_id": cid,
                    "changed_at": moment(rng),
                    "account_manager": manager,
                    "previous_account_manager": rng.choice(managers),
                }
            )
        for r in range(requests):
            rid, captured = f"{cid}r{r}", moment(rng)
            out["report_requests"].append(
                {
                    "request_id": rid,
                    "client_id": cid,
                    "captured_at": captured,
                    "budget": "10000.00",
                    "currency": "EUR",
                    "source_opportunity_id": None,
                    "cancelled_at": None,
                }
            )
            accepted_by_client = captured + timedelta(days=rng.uniform(10, 40)) if rng.random() < 0.5 else None
            if accepted_by_client:
                out["report_deliveries"].append(
                    {
                        "request_id": rid,
                        "client_id": cid,
                        "account_manager": manager,
                        "accepted_at": accepted_by_client,
                        "rework_rounds": rng.randrange(2),
                    }
                )
            for w in range(rng.choice((1, 1, 2))):
                wid, handed = f"{rid}w{w}", captured + timedelta(days=rng.uniform(0, 3))
                accepted = handed + timedelta(days=rng.uniform(0, 2))
                done = accepted + timedelta(days=rng.uniform(1, 20)) if rng.random() < 0.8 else None
                out["report_handoffs"].append(
                    {
                        "handoff_id": wid,
                        "request_id": rid,
                        "client_id": cid,
                        "department": rng.choice(DEPARTMENTS),
                        "handed_off_at": handed,
                        "due_by": (handed + timedelta(days=14)).date(),
                        "captured_at": captured,
                        "segment": segment,
                    }
                )
                out["report_work_orders"].append(
                    {
                        "work_order_id": wid,
                        "request_id": rid,
                        "client_id": cid,
                        "department": out["report_handoffs"][-1]["department"],
                        "account_manager": manager,
                        "due_by": (handed + timedelta(days=14)).date(),
                        "status": "completed" if done else "in_progress",
                        "accepted_at": accepted,
                        "first_completed_at": done,
                        "completed_at": done,
                        "blocked_seconds": rng.choice((0.0, 0.0, 3600.0)),
                        "rework_rounds": rng.randrange(2),
                    }
                )
        for _ in range(3):
            seq += 1
            kind = rng.choice(KINDS)
            out["report_activity"].append(
                {
                    "seq": seq,
                    "client_id": cid,
                    "account_manager": manager,
                    "occurred_at": moment(rng),
                    "kind": kind,
                    "code": "frequency_cap" if kind == "refused" else "as_promised",
                    "reference": None,
                }
            )
        out["report_follow_ups"].append(
            {
                "follow_up_id": f"{cid}f",
                "client_id": cid,
                "kind": "review",
                "due_on": moment(rng).date(),
                "status": rng.choice(("open", "done")),
            }
        )
        if rng.random() < 0.1:
            out["report_programs"].append(
                {
                    "program_id": f"{cid}p",
                    "client_id": cid,
                    "account_manager": manager,
                    "monthly_fee": "2500.00",
                    "currency": "EUR",
                    "starts_on": date(2026, 1, 1),
                    "ends_on": date(2027, 1, 1),
                }
            )
    return out


def events_worth(rows: dict[str, list[dict]]) -> int:
    """How many events the log behind these rows holds: one per fact row (a work order's row is
    its opening), one more per step a work order took (accepted, completed), per review done
    and per manager change (its handover brief)."""
    counted = sum(len(v) for v in rows.values())
    work = rows["report_work_orders"]
    steps = sum((w["accepted_at"] is not None) + (w["first_completed_at"] is not None) for w in work)
    done = sum(f["status"] == "done" for f in rows["report_follow_ups"])
    return counted + steps + done + len(rows["report_manager_changes"])


async def pages(engine, facts: Facts, filters: Filters, name: str, rows: int, runs: int = 200) -> dict:  # noqa: ANN001
    """A page of 200 rows as the API serves it once the report is computed: from the kept
    computation (``ReportSnapshots``), sliced and encoded as JSON; pages spread over the report."""
    snapshots = ReportSnapshots(max_age=3600)

    async def compute():  # noqa: ANN202
        async with engine.connect() as conn:
            return await REPORTS[name].rows(conn, facts, filters)

    await snapshots.get(name, compute, dict)
    times = []
    for run in range(runs):
        t = time.perf_counter()
        snapshot = await snapshots.get(name, compute, dict)
        body = {"report": name, "total": len(snapshot.rows), "rows": snapshot.page(200, (run * 200) % max(rows, 1))}
        orjson.dumps(body, default=str)
        times.append((time.perf_counter() - t) * 1000)
    return {k: round(v, 3) for k, v in latency_summary(times).items() if k != "n"}


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--requests", type=int, default=1, help="requests per client in the year")
    parser.add_argument(
        "--url",
        default=os.environ.get(
            "BATON_BENCH_REPORTS_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/baton_bench_reports"
        ),
    )
    args = parser.parse_args()
    tune_garbage_collection()  # as the follow-up service runs
    await fresh_postgres(args.url)
    engine = make_engine(args.url)
    facts = Facts(ReportsFromIntake(), ReportsFromDelivery(), ReportsFromFollowup())
    started = time.perf_counter()
    async with engine.begin() as conn:
        for projection in (facts.intake, facts.delivery, facts.followup):
            await conn.run_sync(projection.metadata.create_all)
        facts_rows = rows_for(args.clients, args.requests)
        events = events_worth(facts_rows)
        for name, rows in facts_rows.items():
            keys = [c.name for c in facts.t(name).primary_key.columns]
            for start in range(0, len(rows), 50_000):
                await conn.run_sync(insert_new, facts.t(name), rows[start : start + 50_000], keys)
    del facts_rows, rows  # a service holds no such heap: collections would walk 1.4M rows' objects
    gc.collect()
    async with engine.connect() as conn:
        # Settled, as a live database is: without the vacuum, autovacuum works through the
        # bulk insert during the measurement (rotation p50 230 ms then, 149 ms after).
        conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("VACUUM ANALYZE")
    filled = time.perf_counter() - started
    filters = Filters(Period.parse("2026-06", date(2026, 7, 1)), date(2026, 7, 1))
    figures = {}
    for name, report in REPORTS.items():
        times, count = [], 0
        for run in range(args.runs + 2):
            t = time.perf_counter()
            async with engine.connect() as conn:
                count = len(await report.rows(conn, facts, filters))
            if run >= 2:  # two warm-up runs
                times.append((time.perf_counter() - t) * 1000)
        figures[name] = {
            "rows": count,
            "computed": {k: round(v, 1) for k, v in latency_summary(times).items() if k != "n"},
            "page": await pages(engine, facts, filters, name, count),
        }
    await engine.dispose()
    print(
        json.dumps(
            {
                "clients": args.clients,
                "requests_per_client": args.requests,
                "events_worth": events,
                "filled_s": round(filled, 1),
                "load": os.getloadavg(),
                "calibration": {"python_kloops_per_s": python_kloops_per_s()},
                "reports_for_2026_06": figures,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
