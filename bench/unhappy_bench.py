"""The unhappy half's writes (issue 20) through follow-up's HTTP API, per second per process and
CPU per command: a complaint's whole lifecycle (open, acknowledge, resolve, confirm: four
commands) and a 1/5 satisfaction (which also opens a recovery and its follow-up). Measured
like ``make bench``'s writes: follow-up alone (intake and delivery paused) and with all three
running. Run from the repository root:

    .venv/bin/python bench/unhappy_bench.py [--seconds 10] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from calibration import python_kloops_per_s  # noqa: E402
from http_bench import Embedded, alone_and_system, prepare_followup_clients  # noqa: E402

COMPLAINT = {"category": "delay", "severity": "high", "description": "the delivery is two weeks late"}


def complaint_lifecycle(clients: list[str]):
    turn = itertools.count()

    async def script(i: int, call) -> None:  # noqa: ANN001
        cid = clients[next(turn) % len(clients)]
        opened = await call("POST", f"/v1/clients/{cid}/complaints", COMPLAINT, 201)
        complaint = f"/v1/complaints/{opened['ids']['complaint_id']}"
        await call("POST", f"{complaint}/acknowledge", {"response": "we are on it"}, 200)
        await call("POST", f"{complaint}/resolve", {"resolution": "delivered", "root_cause": "rota"}, 200)
        await call("POST", f"{complaint}/confirm", {}, 200)

    return script


def unhappy_satisfaction(clients: list[str]):
    turn = itertools.count()

    async def script(i: int, call) -> None:  # noqa: ANN001
        cid = clients[next(turn) % len(clients)]
        await call("POST", f"/v1/clients/{cid}/satisfaction", {"score": 1, "comment": "late again"}, 201)

    return script


async def main(seconds: float, concurrency: int) -> dict:
    services = ["intake", "delivery", "followup"]
    out: dict = {"calibration": {"python_kloops_per_s": python_kloops_per_s()}}
    with tempfile.TemporaryDirectory(prefix="baton-unhappy-") as workdir:
        embedded = Embedded(Path(workdir), {"BATON_OVERDUE_CHECK_SECONDS": "3600"})
        try:
            embedded.start(services)
            clients = await prepare_followup_clients(embedded.url("intake"), embedded.url("followup"), concurrency * 16)
            for name, script in (
                ("complaint lifecycle", complaint_lifecycle(clients)),
                ("satisfaction 1/5 (opens a recovery)", unhappy_satisfaction(clients)),
            ):
                out[name] = await alone_and_system(embedded, "followup", script, concurrency, seconds)
        finally:
            embedded.stop()
    return out


def report(results: dict) -> None:
    print(f"calibration: {json.dumps(results['calibration'])}")
    for name, runs in results.items():
        if name == "calibration":
            continue
        for how in ("alone", "system"):
            r = runs[how]
            cpu = r["cpu_ms_per_command"]
            print(
                f"{name:38} {how:6} {r['commands_per_s']:8.0f} commands/s  p50 {r['p50_ms']:.1f} ms  "
                f"p99 {r['p99_ms']:.1f} ms  CPU/command followup {cpu.get('followup')} ms, "
                f"nats {cpu.get('nats-server')} ms  errors {r['errors']}"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    report(asyncio.run(main(args.seconds, args.concurrency)))
