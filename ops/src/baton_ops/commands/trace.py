"""``baton trace``: one client's journey across every service, with what caused what."""

from __future__ import annotations

import typer
from rich.table import Table

from baton_ops.catalogue import NothingFound, services
from baton_ops.cli import app, console, emit_json, run
from baton_ops.event_log import LoggedEvent, read_events, summary


def journey(events: list[LoggedEvent], key: str) -> list[LoggedEvent]:
    return sorted(
        (
            e
            for e in events
            if e.client_id == key
            or (e.envelope or {}).get("correlation_id") == key
            or (e.envelope or {}).get("aggregate_id") == key
        ),
        key=lambda e: (e.occurred_at, e.service, e.seq),
    )


@app.command("trace")
def trace(
    key: str = typer.Argument(..., help="a client id or a correlation id (a request id is a journey's correlation id)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """The journey across all services in order, with causation links and the time between steps."""

    async def body(nc) -> int:
        everything: list[LoggedEvent] = []
        for entry in services():
            everything.extend(await read_events(nc, entry.name))
        steps = journey(everything, key)
        if not steps:
            raise NothingFound(f"no events for client or correlation id {key}")
        index = {e.event_id: n for n, e in enumerate(steps, start=1) if e.event_id}
        rows = []
        previous = None
        for n, e in enumerate(steps, start=1):
            env = e.envelope or {}
            cause = env.get("causation_id")
            rows.append(
                {
                    "step": n,
                    "service": e.service,
                    "seq": e.seq,
                    "event_type": env.get("event_type"),
                    "event_id": e.event_id,
                    "occurred_at": e.occurred_at.isoformat(),
                    "since_previous_s": None if previous is None else round((e.occurred_at - previous).total_seconds(), 3),
                    "caused_by_step": index.get(cause),
                    "causation_id": cause,
                    "actor": env.get("actor"),
                    "aggregate": f"{env.get('aggregate_type')}:{env.get('aggregate_id')}",
                    "summary": summary(e, 200),
                }
            )
            previous = e.occurred_at
        if as_json:
            emit_json(rows)
            return 0
        table = Table(title=f"journey of {key}")
        for column in ("#", "occurred at", "+time", "service", "event", "caused by", "actor", "what"):
            table.add_column(column, overflow="fold")
        for r in rows:
            caused = f"#{r['caused_by_step']}" if r["caused_by_step"] else (f"[dim]{r['causation_id'][:12]}[/dim]" if r["causation_id"] else "")
            table.add_row(
                str(r["step"]), r["occurred_at"][:23], "" if r["since_previous_s"] is None else f"+{r['since_previous_s']:.3f}s",
                r["service"], r["event_type"] or "?", caused, r["actor"] or "", r["summary"],
            )
        console.print(table)
        return 0

    run(body)
