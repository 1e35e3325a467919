"""Profile one process of the embedded run while a service's write workload drives it.

    .venv/bin/python bench/profile_writes.py intake            # profile intake under intake's writes
    .venv/bin/python bench/profile_writes.py followup intake   # follow-up while intake is written to
    .venv/bin/python bench/profile_writes.py delivery handoff  # delivery during handoffs at 200/s

    .venv/bin/python bench/profile_writes.py followup --data /tmp/baton-large-log-x/large --idle

py-spy samples the process for 8 s while a thread holds the GIL (CPU, not waiting for the GIL; raw collapsed
stacks into bench/results/profile-<proc>-<load>.txt)
and the share of samples per function (inclusive) is printed, Baton's and the libraries' on the path.
``--idle`` samples every thread whatever it does, waiting included: where the time goes when the
process waits rather than computes. ``--data`` runs on a kept data folder (``large_log.py --keep``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import http_bench
from common import ROOT
from loadgen import closed_loop

FOCUS = r"baton|starlette|fastapi|pydantic|nats|sqlalchemy|uvicorn|cryptography|orjson"


def shares(raw: Path, focus: str = FOCUS, top: int = 45) -> list[str]:
    inclusive, total = collections.Counter(), 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        total += int(n)
        for name in {re.sub(r":\d+\)$", ")", f.replace(str(ROOT), "")) for f in stack.split(";")}:
            inclusive[name] += int(n)
    return [
        f"{100 * n / total:5.1f}%  {name[:140]}" for name, n in inclusive.most_common(400) if re.search(focus, name)
    ][:top]


def spy(pid: int, out: Path, idle: bool) -> subprocess.Popen:
    mode = ["--idle"] if idle else ["--gil"]
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "py-spy"), "record", "-p", str(pid), "-d", "8", "-r", "200"]
        + ["-f", "raw", "-o", str(out), "--nonblocking", *mode],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def main(process: str, workload: str, data: Path | None, idle: bool) -> None:
    env = {"BATON_OVERDUE_CHECK_SECONDS": "3600", "BATON_EMBEDDED_READY_SECONDS": "3600"}
    embedded = http_bench.Embedded(data or Path(tempfile.mkdtemp()) / "data", env)
    embedded.start(list(http_bench.SERVICES), timeout=3600)
    suffix = "-idle" if idle else ""
    out = ROOT / "bench" / "results" / f"profile-{process}-{workload}{suffix}.txt"
    out.parent.mkdir(exist_ok=True)
    try:
        script = http_bench.intake_script()
        if workload == "delivery":
            script = http_bench.delivery_script(
                await http_bench.prepare_work_orders(embedded.url("intake"), embedded.url("delivery"), 400)
            )
        elif workload == "followup":
            script = http_bench.followup_script(
                await http_bench.prepare_followup_clients(embedded.url("intake"), embedded.url("followup"), 1024)
            )
        await http_bench.settle(embedded)
        if workload == "handoff":  # handoffs at 200/s, every service running (as in the bench)
            probe = spy(embedded.pids()[process], out, idle)
            result = await http_bench.handoff_e2e(embedded, 200, 9, warmup=0.5)
            probe.wait(30)
            print(
                f"handoffs at 200/s: {result['completed_per_s']:.0f} completed per s, CPU ms per handoff "
                f"{result['cpu_ms_per_handoff']}; {process}'s samples in {out}"
            )
            print("\n".join(shares(out)))
            return
        # As the bench's "process alone": the services not under load are stopped meanwhile.
        others = [pid for name, pid in embedded.pids().items() if name not in (process, workload, "nats-server")]
        probe = spy(embedded.pids()[process], out, idle)
        with http_bench.paused(others):
            result = await closed_loop(embedded.url(workload), 16, 9, script, warmup=0.5)
            probe.wait(30)
    finally:
        embedded.stop()
    print(f"{len(result['latencies'])} {workload} commands in 9 s; {process}'s samples in {out}")
    print("\n".join(shares(out)))


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("process", choices=[*http_bench.SERVICES])
    p.add_argument("workload", nargs="?", help="the service written to, or handoff (default: the process)")
    p.add_argument("--data", type=Path, help="a kept data folder to run on (large_log.py --keep)")
    p.add_argument("--idle", action="store_true", help="sample waiting threads too (py-spy --idle)")
    a = p.parse_args()
    asyncio.run(main(a.process, a.workload or a.process, a.data, a.idle))
