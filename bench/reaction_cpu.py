"""Follow-up's CPU per delivery or intake event, round after round, as its clients' histories grow.

    .venv/bin/python bench/reaction_cpu.py [--cause delivery|intake] [--clients 8] [--work-orders 400]
        [--new-clients 400] [--rounds 5] [--py-spy FILE]

The embedded run starts; every Baton process but follow-up is paused (SIGSTOP), so nats-server
and follow-up have the machine. This process appends to intake's and delivery's streams itself.

- ``--cause delivery`` (the default): ``--clients`` clients, then, each round, seven delivery
  events per work order (accepted, started, progressed, blocked, unblocked, progressed,
  completed: what the write bench's delivery script causes) for ``--work-orders`` work orders
  spread over those clients. Follow-up reacts to the blocks and unblocks (a change of concern on
  the client's relationship) and to the completion, and projects them. A reaction whose cost
  grows with the history shows as a figure that grows round by round.
- ``--cause intake``: each round, ``--new-clients`` clients as the write bench's intake script
  makes them (registered with a revenue, a note, a request, its clarification, a second note).
  Follow-up ranks each new client by revenue, starts its relationship and projects all five.

The figure per round is follow-up's process CPU from the round's first append until its
consumers are drained and it is quiet, per event. ``--py-spy FILE``: follow-up's stacks over
the last round, raw (py-spy's collapsed format), 200 samples a second.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import calibration
from common import ROOT, cpu_seconds, py_spy, stop_py_spy

QUIET_CPU = 0.05  # of a core: follow-up is done with a round


async def drained(nc, stream: str, prefix: str) -> bool:  # noqa: ANN001
    from baton_shared.eventstore.provisioning import consumer_info, js_api

    names = (await js_api(nc, f"CONSUMER.NAMES.{stream}", {"offset": 0})).get("consumers") or []
    for name in names:
        if name.startswith(prefix):
            info = await consumer_info(nc, stream, name)
            if info and (info["num_pending"] or info["num_ack_pending"]):
                return False
    return True


async def settle(nc, pid: int, timeout: float = 300) -> None:  # noqa: ANN001
    """Until follow-up's consumers of both streams are drained and its CPU is quiet."""
    deadline = time.monotonic() + timeout
    cpu, at = cpu_seconds(pid), time.monotonic()
    while time.monotonic() < deadline:
        await asyncio.sleep(0.3)
        now_cpu, now = cpu_seconds(pid), time.monotonic()
        quiet = (now_cpu - cpu) < QUIET_CPU * (now - at)
        cpu, at = now_cpu, now
        if quiet and await drained(nc, "DELIVERY", "followup") and await drained(nc, "INTAKE", "followup"):
            return
    raise TimeoutError("follow-up did not settle")


async def measured_round(args, nc, store, followup: int, round_no: int, appends: list) -> float:  # noqa: ANN001
    """Follow-up's CPU (ms) per event of ``appends`` ((aggregate type, id, event), one append
    each, as commands make them), from the first append until follow-up is drained and quiet;
    py-spy over the last round when asked."""
    from baton_shared.eventstore import NewEvent

    spy = py_spy(followup, args.py_spy, 200) if args.py_spy and round_no == args.rounds else None
    cpu0 = cpu_seconds(followup)
    versions: dict[str, int] = {}
    for kind, aggregate_id, event in appends:
        result = await store.append(
            kind,
            aggregate_id,
            versions.get(aggregate_id, 0),
            [NewEvent(event, correlation_id=aggregate_id, actor="bench")],
        )
        versions[aggregate_id] = result.last_seq
    await settle(nc, followup)
    spent = cpu_seconds(followup) - cpu0
    stop_py_spy(spy)
    return 1e3 * spent / len(appends)


async def delivery_rounds(args, nc, delivery, followup: int, clients: list[str]) -> None:  # noqa: ANN001
    from baton_shared import uuid_strings
    from baton_shared.contracts import delivery as dev

    now = datetime.now(timezone.utc)
    print(f"{args.clients} clients, {args.work_orders} work orders a round, 7 delivery events each")
    history = 1  # each relationship's events: started, then a concern per block and per unblock
    for round_no in range(1, args.rounds + 1):
        appends = []
        for n in range(args.work_orders):
            cid, rid, wo = clients[n % len(clients)], uuid_strings.random_uuid(), uuid_strings.random_uuid()
            common = {"request_id": rid, "client_id": cid, "work_order_id": wo, "department": f"dept{n % 4}"}
            appends += [
                ("request", rid, event)
                for event in (
                    dev.WorkOrderAccepted(**common, member="member"),
                    dev.WorkOrderStarted(**common),
                    dev.WorkOrderProgressed(**common, note="foundations poured", percent=40),
                    dev.WorkOrderBlocked(**common, reason="waiting for the permit", blocked_at=now),
                    dev.WorkOrderUnblocked(**common, unblocked_at=now, blocked_seconds=60.0),
                    dev.WorkOrderProgressed(**common, note="walls up", percent=90),
                    dev.WorkOrderCompleted(**common, note="done", completed_at=now),
                )
            ]
        per_event = await measured_round(args, nc, delivery, followup, round_no, appends)
        history += 2 * args.work_orders // len(clients)
        print(
            f"round {round_no}: {per_event:.3f} ms of follow-up's CPU per delivery event "
            f"({len(appends)} events; each relationship's history now ~{history} events)"
        )


async def intake_rounds(args, nc, intake, followup: int) -> None:  # noqa: ANN001
    """Each round, ``--new-clients`` clients as the write bench's intake script makes them:
    registered with a revenue, a note, a request, its clarification, a second note."""
    from decimal import Decimal

    from baton_shared import uuid_strings
    from baton_shared.contracts import intake as ev

    print(f"{args.new_clients} new clients a round, 5 intake events each")
    for round_no in range(1, args.rounds + 1):
        appends = []
        for n in range(args.new_clients):
            cid, rid = uuid_strings.random_uuid(), uuid_strings.random_uuid()
            registered = ev.ClientRegistered(
                client_id=cid,
                name=f"Client {n}",
                segment="B2B",
                account_manager="alice",
                annual_revenue=Decimal(250000),
            )
            note = {"client_id": cid, "author": "alice"}
            need = {"request_id": rid, "client_id": cid}
            appends += [
                ("client", cid, registered),
                ("client", cid, ev.ClientNoteAdded(**note, note_id=uuid_strings.random_uuid(), text="e-mail")),
                ("request", rid, ev.NeedCaptured(**need, summary="a house", budget=Decimal(400000))),
                ("request", rid, ev.ClarificationRecorded(**need, question="heating?", answer="heat pump")),
                ("client", cid, ev.ClientNoteAdded(**note, note_id=uuid_strings.random_uuid(), text="two children")),
            ]
        per_event = await measured_round(args, nc, intake, followup, round_no, appends)
        print(f"round {round_no}: {per_event:.3f} ms of follow-up's CPU per intake event ({len(appends)} events)")


async def main(args: argparse.Namespace) -> None:
    import nats
    from http_bench import Embedded, paused

    from baton_shared import uuid_strings
    from baton_shared.contracts import STREAMS, registry
    from baton_shared.contracts.intake import ClientRegistered
    from baton_shared.eventstore import NewEvent
    from baton_shared.eventstore.jetstream import JetStreamEventStore

    embedded = Embedded(Path(tempfile.mkdtemp(prefix="baton-reaction-cpu-")))
    embedded.start(["intake", "delivery", "followup"])
    nc = await nats.connect(embedded.nats_url)
    try:
        pids = embedded.pids()
        followup = pids["followup"]
        others = [pid for name, pid in pids.items() if name not in ("followup", "nats-server")]
        intake = JetStreamEventStore(nc, STREAMS["intake"], registry)
        delivery = JetStreamEventStore(nc, STREAMS["delivery"], registry)
        with paused(others):
            clients = [uuid_strings.random_uuid() for _ in range(args.clients)]
            for cid in clients:
                registered = ClientRegistered(client_id=cid, name="Reacted", segment="B2B", account_manager="alice")
                await intake.append("client", cid, 0, [NewEvent(registered, correlation_id=cid, actor="bench")])
            await settle(nc, followup)
            print(f"calibration: pure Python {calibration.python_kloops_per_s(3)}k loops/s")
            if args.cause == "intake":
                await intake_rounds(args, nc, intake, followup)
            else:
                await delivery_rounds(args, nc, delivery, followup, clients)
    finally:
        await nc.close()
        embedded.stop()


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--work-orders", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--cause", choices=("delivery", "intake"), default="delivery", help="whose events follow-up handles"
    )
    parser.add_argument("--new-clients", type=int, default=400, help="with --cause intake: new clients a round")
    parser.add_argument("--py-spy", help="write follow-up's stacks over the last round here")
    asyncio.run(main(parser.parse_args()))
