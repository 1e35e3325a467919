"""CPU per intake command, the whole service in one process: requests, appends, its projections.

    .venv/bin/python bench/intake_cpu.py [--seconds 8] [--rounds 3] [--log-level INFO] [--cursor-ab]

Intake's app runs in this process on a nats-server of its own and SQLite, as ``make run`` runs
it, and is driven in-process through ASGI (no socket, no HTTP parsing) with the write bench's
commands (``http_bench.intake_script``: a client registered, two notes, a need captured, a
clarification), 16 at a time. The figure is this process's CPU time per command, so it counts
what the service does for a command and for folding its event, and not the load generator's
socket work; the best of ``--rounds`` windows is printed beside the calibration. For A/B work
on the write path: a change that does not move this does not move the service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import orjson

import calibration
from common import ROOT, http_scope, start_nats, stop_process

TOKEN = "bench-admin-token-0000000"


class Asgi:
    """One request through an ASGI app: status and decoded JSON answer."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app

    async def call(self, method: str, path: str, body: object | None = None, expect: int = 200) -> dict:
        data = orjson.dumps(body) if body is not None else b""
        headers = [
            (b"host", b"intake"),
            (b"authorization", f"Bearer {TOKEN}".encode()),
            (b"content-length", str(len(data)).encode()),
        ]
        if body is not None:
            headers.append((b"content-type", b"application/json"))
        scope = http_scope(method, path, headers, server="intake")
        sent = False
        status, chunks = [], []

        async def receive() -> dict:
            nonlocal sent
            if sent:
                await asyncio.Event().wait()  # a disconnect never comes
            sent = True
            return {"type": "http.request", "body": data, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        if status[0] != expect:
            raise RuntimeError(f"{method} {path} -> {status[0]} {b''.join(chunks)[:200]!r}")
        return orjson.loads(b"".join(chunks)) if chunks and b"".join(chunks) else {}


async def window(client: Asgi, seconds: float, concurrency: int = 16, script=None) -> tuple[int, float]:  # noqa: ANN001
    """Commands done and CPU seconds used, ``concurrency`` scripts back to back for ``seconds``
    (``script``: the write bench's, intake's by default)."""
    import http_bench

    script = script or http_bench.intake_script()
    stop_at = time.monotonic() + seconds
    done = 0

    class Done(Exception):
        pass

    async def call(method: str, path: str, body: object | None = None, expect: int = 200) -> dict:
        nonlocal done
        if time.monotonic() >= stop_at:
            raise Done
        answer = await client.call(method, path, body, expect)
        done += 1
        return answer

    async def worker(i: int) -> None:
        with_index = i
        while True:
            try:
                await script(with_index, call)
            except Done:
                return
            with_index += concurrency

    started = time.process_time()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    await asyncio.sleep(0.3)  # the last events folded (and acknowledged, 0.25 s) inside the window
    return done, time.process_time() - started


def settings_for(cls, service: str, url: str, folder: Path, log_level: str):  # noqa: ANN001, ANN201
    """The service's settings as ``make run`` has them, on ``url`` and SQLite in ``folder``."""
    tokens = json.dumps([{"name": "bench", "role": "admin", "token": TOKEN}])
    return cls(
        nats_url=url,
        data_dir=folder,
        database_url=f"sqlite+aiosqlite:///{folder / f'{service}.sqlite3'}",
        tokens=tokens,
        log_level=log_level,
    )


async def rounds_of(client: Asgi, args: argparse.Namespace, script=None) -> list[tuple[float, float]]:  # noqa: ANN001
    """(CPU µs per command, commands per second) of each of ``args.rounds`` windows."""
    out = []
    for _ in range(args.rounds):
        done, cpu = await window(client, args.seconds, script=script)
        out.append((cpu / done * 1e6, done / args.seconds))
    return out


def report(service: str, rounds: list[tuple[float, float]]) -> None:
    per, rate = min(rounds)
    print(f"calibration: pure Python {calibration.python_kloops_per_s(3)}k loops/s")
    each = ", ".join(f"{us:.0f}" for us, _ in rounds)
    print(
        f"{service} in one process: {per:.0f} us CPU per command (best of {len(rounds)}: {each}); {rate:.0f} commands/s"
    )


async def main(args: argparse.Namespace) -> None:
    from asgi_lifespan import LifespanManager

    from baton_intake.composition import create_app
    from baton_shared.service.settings import BatonSettings

    folder = Path(tempfile.mkdtemp(prefix="baton-intake-cpu-"))
    server, url = start_nats(folder / "nats")
    try:
        settings = settings_for(BatonSettings, "intake", url, folder, args.log_level)
        app = create_app(settings)
        sys.stderr = open(folder / "intake.log", "w")  # noqa: SIM115 - the service's log, as a file
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            client = Asgi(app)
            await window(client, 2)  # warm-up
            if args.cursor_ab:
                await cursor_ab(client, args)
                return
            rounds = await rounds_of(client, args)
        sys.stderr = sys.__stderr__
    finally:
        sys.stderr = sys.__stderr__
        stop_process(server)
    report("intake", rounds)


async def cursor_ab(client: Asgi, args: argparse.Namespace) -> None:
    """Rounds alternating the projections' statements on the driver's cursor and through
    SQLAlchemy's execution (``sqlite_statements``), in this one process."""
    from baton_shared.projections import sqlite_statements

    on_cursor = sqlite_statements.on_cursor
    took: dict[str, list[float]] = {"on the cursor": [], "through SQLAlchemy": []}
    try:
        for _ in range(args.rounds):
            for way in took:
                sqlite_statements.on_cursor = on_cursor if way == "on the cursor" else lambda _conn: None
                done, cpu = await window(client, args.seconds)
                took[way].append(cpu / done * 1e6)
    finally:
        sqlite_statements.on_cursor = on_cursor
    print(f"calibration: pure Python {calibration.python_kloops_per_s(3)}k loops/s")
    for way, us in took.items():
        print(f"intake in one process, statements {way}: " + ", ".join(f"{x:.0f}" for x in us) + " us CPU per command")
    diffs = sorted(a - b for a, b in zip(*took.values(), strict=True))
    print(
        f"round by round, cursor minus SQLAlchemy: median {diffs[len(diffs) // 2]:+.0f} us ({', '.join(f'{d:+.0f}' for d in diffs)})"
    )


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--log-level", default="INFO", help="the service's log level (INFO, as deployed)")
    parser.add_argument(
        "--cursor-ab", action="store_true", help="alternate the statements on the cursor and through SQLAlchemy"
    )
    asyncio.run(main(parser.parse_args()))
