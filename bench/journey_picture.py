"""The journey picture's figure: how long a real 300-event journey takes to draw.

A private nats-server and the three services in this process (SQLite projections,
a fake clock moved forward between steps for due dates and lateness, delivery's
overdue check run by hand) live one client's journey through their HTTP APIs:
needs, clarifications, handoffs to two departments, work accepted, progressed,
some of it late (``WorkOrderOverdue``), blocked and completed, the client's
acceptance, follow-up's satisfaction checks and contacts, some of them refused by
the client's contact cap (``ContactSuppressed``). The journey is then read from the
log the way ``baton trace`` reads it and drawn; the figure is the time to draw the
SVG (the target: under 1 s for 300 events), with a calibration figure for the
machine (decision 15 of the design card). The envelopes' ``occurred_at`` is the wall
clock, so this journey's boxes are seconds apart, not days.

    .venv/bin/python bench/journey_picture.py [--events 300] [--out bench/results]

writes ``journey.svg`` and ``journey.html`` there (look at them in a browser).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Self

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402 (after the path above)
import nats  # noqa: E402 (after the path above)
from asgi_lifespan import LifespanManager  # noqa: E402 (after the path above)
from baton_ops.journey import journey_events, picture_events  # noqa: E402 (after the path above)
from baton_shared.journey_picture import render_html, render_svg  # noqa: E402 (after the path above)
from baton_shared.service.settings import BatonSettings  # noqa: E402 (after the path above)
from common import start_nats, stop_process  # noqa: E402 (after the path above)

from tests.integration.services import ADMIN, TEST_TOKENS, FakeClock, eventually  # noqa: E402 (after the path above)


class Services:
    """The three services in this process, each with an HTTP client holding an admin token."""

    def __init__(self, nats_url: str, folder: Path) -> None:
        from baton_delivery.composition import create_app as create_delivery
        from baton_followup.composition import create_app as create_followup
        from baton_followup.settings import FollowupSettings
        from baton_intake.composition import create_app as create_intake

        self.clock = FakeClock()
        common = {"nats_url": nats_url, "data_dir": folder, "log_level": "WARNING", "tokens": TEST_TOKENS}

        def db(name: str) -> str:
            return f"sqlite+aiosqlite:///{folder / f'{name}.sqlite3'}"

        self.apps = {
            "intake": create_intake(BatonSettings(database_url=db("intake"), **common), clock=self.clock),
            "delivery": create_delivery(
                BatonSettings(database_url=db("delivery"), **common), clock=self.clock, run_scheduler=False
            ),
            "followup": create_followup(
                FollowupSettings(database_url=db("followup"), **common), clock=self.clock, run_planner=False
            ),
        }
        self.stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> Self:
        for name, app in self.apps.items():
            await self.stack.enter_async_context(LifespanManager(app, startup_timeout=60, shutdown_timeout=30))
            client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=f"http://{name}", headers=ADMIN)
            setattr(self, name, await self.stack.enter_async_context(client))
        self.overdue_check = self.apps["delivery"].state.scheduler
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stack.aclose()


def calibration() -> float:
    """Pure-Python work on this machine: ms for a fixed loop (hosts differ up to ~3x)."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        total = 0
        for n in range(1_000_000):
            total += n % 7
        best = min(best, time.perf_counter() - started)
    return best * 1000


async def ok(call, expect: int = 200) -> dict:
    answer = await call
    assert answer.status_code == expect, answer.text
    return answer.json()


async def live_a_journey(svc, events_wanted: int, nc) -> str:
    """One client's journey through the three services' APIs until it has ``events_wanted`` events."""
    clock = svc.clock
    client = await ok(
        svc.intake.post(
            "/v1/clients",
            json={
                "name": "Casa Bianchi <S.r.l.>",
                "segment": "B2B",
                "account_manager": "alice",
                "annual_revenue": "250000",
                "contact_policy": {"max_contacts_per_30_days": 3},
            },
        ),
        201,
    )
    cid = client["ids"]["client_id"]
    await eventually(lambda: svc.followup.get(f"/v1/clients/{cid}"), what="relationship")
    for text in ("prefers calls after 15:00", "the owner decides, not the architect", "<script>alert('x')</script>"):
        clock.now += timedelta(hours=2)
        await ok(svc.intake.post(f"/v1/clients/{cid}/notes", json={"text": text}), 201)
    rounds = 0
    while await count(nc, cid) < events_wanted:
        rounds += 1
        clock.now += timedelta(days=1)
        need = await ok(svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": f"house, phase {rounds}"}), 201)
        rid = need["ids"]["request_id"]
        for q, a in (("How many floors?", "three"), ("Heating?", "heat pump")):
            clock.now += timedelta(minutes=20)
            await ok(svc.intake.post(f"/v1/requests/{rid}/clarifications", json={"question": q, "answer": a}), 201)
        clock.now += timedelta(hours=3)
        due = (clock.now.date() + timedelta(days=3)).isoformat()
        work = [{"department": d, "scope": f"{d} for phase {rounds}", "due_by": due} for d in ("design", "build")]
        handed = await ok(svc.intake.post(f"/v1/requests/{rid}/handoffs", json={"work": work}), 201)
        orders = handed["ids"]["handoff_ids"]
        for wo in orders:
            await eventually(lambda wo=wo: _found(svc.delivery.get(f"/v1/work-orders/{wo}")), what="work order")
            clock.now += timedelta(hours=1)
            await ok(svc.delivery.post(f"/v1/work-orders/{wo}/accept", json={"member": "dora"}))
            await ok(svc.delivery.post(f"/v1/work-orders/{wo}/start", json={}))
        for step in range(1, 5):
            clock.now += timedelta(hours=5)
            for wo in orders:
                await ok(
                    svc.delivery.post(f"/v1/work-orders/{wo}/progress", json={"note": "on it", "percent": step * 20})
                )
        if rounds % 3 == 0:  # late: the overdue check finds it
            clock.now += timedelta(days=4)
            await svc.overdue_check.run_once()
        if rounds % 4 == 1:
            await ok(svc.delivery.post(f"/v1/work-orders/{orders[1]}/block", json={"reason": "waiting for bricks"}))
            clock.now += timedelta(hours=8)
            await ok(svc.delivery.post(f"/v1/work-orders/{orders[1]}/unblock", json={}))
        for wo in orders:
            clock.now += timedelta(hours=2)
            await ok(svc.delivery.post(f"/v1/work-orders/{wo}/complete", json={"note": "done"}))
        clock.now += timedelta(days=1)
        verdict = {"accepted": True, "satisfaction": 4, "feedback": "good"}
        await ok(svc.delivery.post(f"/v1/requests/{rid}/acceptance", json=verdict))
        clock.now += timedelta(days=1)
        await contact_what_is_due(svc, cid)
    return cid


async def _found(call) -> bool:
    return (await call).status_code == 200


async def contact_what_is_due(svc, cid: str) -> None:
    """Call the client about every follow-up due; the contact cap refuses some (recorded)."""
    await asyncio.sleep(0.3)  # let follow-up take in the acceptance (what is due is read, not waited for)
    brief = (await svc.followup.get(f"/v1/clients/{cid}/brief")).json()
    for item in brief.get("promises_due", [])[:3]:
        svc.clock.now += timedelta(hours=1)
        body = {"channel": "phone", "outcome": "reached", "note": "all fine"}
        answer = await svc.followup.post(f"/v1/follow-ups/{item['follow_up_id']}/contacts", json=body)
        assert answer.status_code in (201, 409), answer.text  # 409: refused by the policy, and recorded


async def count(nc, cid: str) -> int:
    return len(await journey_events(nc, cid))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_nats(Path(tmp) / "js")
        try:
            nc = await nats.connect(url)
            async with Services(url, Path(tmp)) as svc:
                started = time.perf_counter()
                cid = await live_a_journey(svc, args.events, nc)
                lived = time.perf_counter() - started
            started = time.perf_counter()
            logged = sorted(await journey_events(nc, cid), key=lambda e: (e.occurred_at, e.service, e.seq))
            read = time.perf_counter() - started
            await nc.close()
        finally:
            stop_process(proc)
    events = picture_events(logged[: args.events])
    times = []
    for _ in range(7):
        started = time.perf_counter()
        svg = render_svg(events, title=f"Journey of client {cid}")
        times.append(time.perf_counter() - started)
    (args.out / "journey.svg").write_text(svg, encoding="utf-8")
    (args.out / "journey.html").write_text(render_html(events, title=f"Journey of client {cid}"), encoding="utf-8")
    kinds: dict[str, int] = {}
    for e in events:
        kinds[e.event_type] = kinds.get(e.event_type, 0) + 1
    boxes = svg.count('class="box')
    print(
        f"journey of client {cid}: {len(events)} events ({len(logged)} in the log), {boxes} boxes, {len(svg):,} bytes"
    )
    print("  " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items(), key=lambda kv: -kv[1])))
    print(f"lived through the APIs in {lived:.1f} s; read from the log like `baton trace` in {read * 1000:.0f} ms")
    print(
        f"render_svg, 7 runs: first {times[0] * 1000:.1f} ms, median {statistics.median(times) * 1000:.1f} ms, "
        f"max {max(times) * 1000:.1f} ms (target: under 1000 ms)"
    )
    print(f"calibration: {calibration():.0f} ms for a 1M-step pure-Python loop; written to {args.out}")
    print(f"date {date.today().isoformat()}")


if __name__ == "__main__":
    asyncio.run(main())
