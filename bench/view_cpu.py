"""CPU per read of the views that reactions and the handoff's GET ask on every cause or request.

    .venv/bin/python bench/view_cpu.py [--clients 2000] [--reads 3000] [--rounds 3] [--database-url URL]

Follow-up's and delivery's projections' tables are made in a fresh SQLite file (or the
PostgreSQL database given, emptied first); ``--clients`` clients are folded into follow-up's
revenue ranks. Then, in this one process, each read is asked ``--reads`` times:

- follow-up's rank of a new client by revenue (``FollowupViews.revenue_rank``: every
  ``ClientRegistered`` and ``ClientRevenueChanged`` asks it);
- follow-up's request text (``request_text``: every ``WorkOrderAccepted`` asks it);
- delivery's work order (``DeliveryViews.work_order``: the handoff bench's GET);

and the process's CPU time per read is printed, best of ``--rounds``, beside the calibration.
For A/B work on a view: run it from two commits in turns.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import calibration
from common import ROOT, fresh_postgres


def registrations(clients: int) -> list:
    from baton_shared.contracts import intake as ev
    from baton_shared.events.envelope import Envelope, RecordedEvent

    start = datetime(2026, 3, 1, tzinfo=timezone.utc)
    out = []
    for n in range(clients):
        cid = f"client-{n:06}"
        e = ev.ClientRegistered(
            client_id=cid, name=cid, segment="B2B", account_manager="ann", annual_revenue=Decimal(50_000 + 997 * n)
        )
        envelope = Envelope(
            event_id=f"e{n}",
            event_type=e.event_type,
            schema_version=e.schema_version,
            aggregate_type="client",
            aggregate_id=cid,
            occurred_at=start + timedelta(seconds=n),
            correlation_id=cid,
            actor="ann",
            payload=e.model_dump(mode="json"),
        )
        out.append(RecordedEvent("INTAKE", n + 1, f"intake.client.{cid}.ClientRegistered", envelope, e))
    return out


async def per_read(reads: int, ask) -> float:  # noqa: ANN001
    """CPU microseconds per ``await ask(n)``."""
    t = time.process_time()
    for n in range(reads):
        await ask(n)
    return 1e6 * (time.process_time() - t) / reads


async def main(args: argparse.Namespace) -> None:
    from baton_delivery.projections import all_projections as delivery_projections
    from baton_delivery.projections.views import DeliveryViews
    from baton_followup.composition import VIEWS
    from baton_followup.projections import all_projections as followup_projections
    from baton_followup.projections.views import FollowupViews
    from baton_shared.projections.sql import make_engine

    if args.database_url:
        await fresh_postgres(args.database_url)
        url = args.database_url
    else:
        url = f"sqlite:///{tempfile.mkdtemp(prefix='baton-view-cpu-')}/views.sqlite3"
    engine = make_engine(url)
    followup = {p.name: p for p in followup_projections()}
    delivery = {p.name: p for p in delivery_projections()}
    try:
        async with engine.begin() as conn:
            for projection in (*followup.values(), *delivery.values()):
                await conn.run_sync(projection.metadata.create_all)
            await conn.run_sync(followup["revenue_ranks"].apply, registrations(args.clients))
        views = FollowupViews(engine, *(followup[n] for n in VIEWS), ranks=followup["revenue_ranks"])
        work = DeliveryViews(
            engine, *(delivery[n] for n in ("work_orders", "request_deliveries", "client_managers", "own_events"))
        )
        reads = {
            "follow-up: a new client's rank by revenue": lambda n: views.revenue_rank(
                Decimal(50_000 + 1_993 * n), excluding=f"new-{n}"
            ),
            "follow-up: a request's text": lambda n: views.request_text(f"request-{n}"),
            "delivery: a work order": lambda n: work.work_order(f"work-order-{n}"),
        }
        for ask in reads.values():  # warm: connections opened, statements compiled
            await per_read(50, ask)
        print(f"calibration: pure Python {calibration.python_kloops_per_s(3)}k loops/s")
        print(f"{'SQLite' if not args.database_url else 'PostgreSQL'}, {args.clients} clients ranked")
        for name, ask in reads.items():
            best = min([await per_read(args.reads, ask) for _ in range(args.rounds)])
            print(f"{name}: {best:.0f} us of CPU per read (best of {args.rounds})")
    finally:
        await engine.dispose()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", help="PostgreSQL (postgresql+asyncpg://…); a fresh SQLite file if not given")
    asyncio.run(main(parser.parse_args()))
