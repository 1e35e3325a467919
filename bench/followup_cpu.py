"""CPU per follow-up command, the whole service in one process: requests, appends, its projections.

    .venv/bin/python bench/followup_cpu.py [--seconds 8] [--rounds 3] [--clients 1024] [--py-spy FILE]

As ``intake_cpu.py`` does for intake: follow-up's app runs in this process on a nats-server of
its own and SQLite, driven in-process through ASGI with the write bench's follow-up commands
(``http_bench.followup_script``: a satisfaction record, every client in turn), 16 at a time.
The clients are appended to intake's stream first, as intake would, and follow-up's
reactions start their relationships. The figure is this process's CPU time per command; the
best of ``--rounds`` windows is printed beside the calibration. ``--py-spy FILE``: this
process's stacks over the rounds, raw (py-spy's collapsed format), 500 samples a second.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import tempfile
from pathlib import Path

from common import ROOT, py_spy, start_nats, stop_process, stop_py_spy
from intake_cpu import Asgi, report, rounds_of, settings_for, window


async def registered(url: str, clients: int) -> list[str]:
    """``clients`` clients appended to intake's stream (its ``ClientRegistered``), as intake would."""
    import nats

    from baton_shared import uuid_strings
    from baton_shared.contracts import STREAMS, registry
    from baton_shared.contracts.intake import ClientRegistered
    from baton_shared.eventstore import NewEvent
    from baton_shared.eventstore.jetstream import JetStreamEventStore

    nc = await nats.connect(url)
    try:
        intake = JetStreamEventStore(nc, STREAMS["intake"], registry)
        ids = [uuid_strings.random_uuid() for _ in range(clients)]
        for n, cid in enumerate(ids):
            event = ClientRegistered(client_id=cid, name=f"Followed {n}", segment="B2B", account_manager="alice")
            await intake.append("client", cid, 0, [NewEvent(event, correlation_id=cid, actor="bench")])
        return ids
    finally:
        await nc.close()


async def known(client: Asgi, clients: list[str], timeout: float = 120) -> None:
    """Until follow-up records a satisfaction for every client (its relationship started)."""
    deadline = asyncio.get_running_loop().time() + timeout
    for cid in clients:
        while True:
            try:
                await client.call("POST", f"/v1/clients/{cid}/satisfaction", {"score": 5}, expect=201)
                break
            except RuntimeError:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.05)


async def main(args: argparse.Namespace) -> None:
    import nats
    from asgi_lifespan import LifespanManager
    from http_bench import followup_script

    from baton_followup.composition import create_app
    from baton_followup.settings import FollowupSettings
    from baton_shared.contracts import STREAMS
    from baton_shared.eventstore.provisioning import provision_stream

    folder = Path(tempfile.mkdtemp(prefix="baton-followup-cpu-"))
    server, url = start_nats(folder / "nats")
    spy = None
    try:
        nc = await nats.connect(url)
        for service in ("intake", "delivery"):  # the streams follow-up's consumers read
            await provision_stream(nc, STREAMS[service])
        await nc.close()
        settings = settings_for(FollowupSettings, "followup", url, folder, args.log_level)
        app = create_app(settings)
        sys.stderr = open(folder / "followup.log", "w")  # noqa: SIM115 - the service's log, as a file
        async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30):
            client = Asgi(app)
            clients = await registered(url, args.clients)
            await known(client, clients)
            script = followup_script(clients)
            await window(client, 2, script=script)  # warm-up
            if args.py_spy:
                spy = py_spy(os.getpid(), args.py_spy, 500)
            rounds = await rounds_of(client, args, script)
        sys.stderr = sys.__stderr__
    finally:
        sys.stderr = sys.__stderr__
        stop_py_spy(spy)
        stop_process(server)
    report("follow-up", rounds)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "bench"))
    logging.getLogger("asyncio").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=1024, help="as the write bench: 16 connections x 64")
    parser.add_argument("--log-level", default="INFO", help="the service's log level (INFO, as deployed)")
    parser.add_argument("--py-spy", help="write this process's stacks over the rounds here")
    asyncio.run(main(parser.parse_args()))
