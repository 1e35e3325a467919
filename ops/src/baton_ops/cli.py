"""The ``baton`` command line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import nats
import typer
from rich.console import Console

from baton_shared.service.settings import BatonSettings, inbox_prefix, secret_value

from baton_ops.catalogue import NothingFound, UsageError

app = typer.Typer(help="Ops tool for Baton's event log: inspect, trace, lag, parked events.", no_args_is_help=True)
events_app = typer.Typer(help="Events in the log.", no_args_is_help=True)
projections_app = typer.Typer(help="The services' projections.", no_args_is_help=True)
parked_app = typer.Typer(help="Events a projection or reaction gave up on.", no_args_is_help=True)
app.add_typer(events_app, name="events")
app.add_typer(projections_app, name="projections")
app.add_typer(parked_app, name="parked")

console = Console()
errors = Console(stderr=True, soft_wrap=True)  # one error, one line: greppable


def emit_json(value: Any, *, line: bool = False) -> None:
    """JSON on stdout: indented, or (``line``) one object per line for streams of events."""
    sys.stdout.write(json.dumps(value, indent=None if line else 2, default=str) + "\n")
    sys.stdout.flush()  # a follower piped into another program sees each event as it comes


async def connect() -> nats.NATS:
    settings = BatonSettings()
    try:
        return await nats.connect(
            servers=[s.strip() for s in settings.nats_url.split(",")],
            user=settings.nats_user,
            password=secret_value(settings.nats_password),
            connect_timeout=3,
            max_reconnect_attempts=1,
            allow_reconnect=False,
            inbox_prefix=inbox_prefix("ops"),
        )
    except Exception as exc:  # noqa: BLE001 - reported with the exit code
        raise ConnectionError(f"cannot reach NATS at {settings.nats_url}: {exc}") from exc


def run(body: Callable[[nats.NATS], Awaitable[int | None]], needs_nats: bool = True) -> None:
    """Run an async command with a NATS connection; map failures to exit codes."""

    async def main() -> int:
        nc = await connect() if needs_nats else None
        try:
            return (await body(nc)) or 0
        finally:
            if nc is not None:
                await nc.close()

    try:
        code = asyncio.run(main())
    except UsageError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        code = 2
    except NothingFound as exc:
        errors.print(f"[yellow]{exc}[/yellow]")
        code = 3
    except KeyboardInterrupt:
        code = 0
    except Exception as exc:  # noqa: BLE001 - every failure gets a message and exit code 1
        errors.print(f"[red]error:[/red] {exc}")
        code = 1
    raise typer.Exit(code)


def main() -> None:
    app()


# The commands register themselves on the apps above.
from baton_ops.commands import events as _events  # noqa: E402,F401
from baton_ops.commands import parked as _parked  # noqa: E402,F401
from baton_ops.commands import projections as _projections  # noqa: E402,F401
from baton_ops.commands import reports as _reports  # noqa: E402,F401
from baton_ops.commands import streams as _streams  # noqa: E402,F401
from baton_ops.commands import trace as _trace  # noqa: E402,F401
from baton_ops.commands import transfer as _transfer  # noqa: E402,F401
