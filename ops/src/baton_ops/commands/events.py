"""``baton events tail`` and ``baton events show``."""

from __future__ import annotations

import asyncio
import time

import typer
from rich.table import Table

from baton_shared.contracts import STREAMS
from baton_shared.contracts.streams import check_token

from baton_ops.catalogue import NothingFound, service_names, services
from baton_ops.terminal import console, emit_json, run
from baton_ops.event_log import LoggedEvent, head_of, last_events, read_events, summary
from baton_ops.journey import client_events

events_app = typer.Typer(help="Events in the log.", no_args_is_help=True)


def event_table(title: str, events: list[LoggedEvent]) -> Table:
    table = Table(title=title)
    for column in ("seq", "occurred at", "service", "event", "aggregate", "actor", "what"):
        table.add_column(column, justify="right" if column == "seq" else "left", overflow="fold")
    for e in events:
        env = e.envelope or {}
        table.add_row(
            str(e.seq),
            e.occurred_at.strftime("%Y-%m-%d %H:%M:%S"),
            e.service,
            f"[red]{env.get('event_type', '?')}[/red]" if e.error else env.get("event_type", "?"),
            f"{env.get('aggregate_type', '?')} {str(env.get('aggregate_id', '?'))[:8]}",
            str(env.get("actor", "")),
            summary(e),
        )
    return table


@events_app.command("tail")
def tail(
    service: str = typer.Option(None, "--service", "-s", help="only this service's stream"),
    event_type: str = typer.Option(None, "--type", "-t", help="only this event type, e.g. HandoffRequested"),
    client: str = typer.Option(None, "--client", "-c", help="only events about this client id"),
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=10_000, help="how many of the last events"),
    follow: bool = typer.Option(False, "--follow", "-f", help="keep printing new events (Ctrl-C stops)"),
    follow_seconds: float = typer.Option(None, "--for", hidden=True, help="stop following after this many seconds"),
    as_json: bool = typer.Option(False, "--json", help="one JSON object per line"),
) -> None:
    """The last events of the log, optionally filtered, optionally following new ones.

    With --client, only the client's aggregates are read (subject filters; see
    baton_ops.journey), not every stream in full.
    """
    if event_type is not None:
        try:
            check_token(event_type, "event type")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
    if client is not None:
        try:
            check_token(client, "client id")
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None

    def show(events: list[LoggedEvent], title: str) -> None:
        if as_json:
            for e in events:
                emit_json(e.as_json(), line=True)
        elif events:
            console.print(event_table(title, events))

    async def body(nc) -> int:
        names = service_names(service)
        # Heads first: what the initial read shows ends there and following starts after it.
        heads = {name: await head_of(nc, name) for name in names}
        ids: set[str] = set()
        if client is not None:
            found, ids = await client_events(nc, client, names, event_type)
            collected = [e for e in found if e.seq <= heads[e.service]]
        else:
            collected = []
            for name in names:
                subject = STREAMS[name].type_filter(event_type) if event_type else None
                collected.extend(await last_events(nc, name, limit, subject, end_seq=heads[name]))
        collected.sort(key=lambda e: (e.occurred_at, e.service, e.seq))
        show(collected[-limit:], "last events")
        if not follow:
            return 0

        def keep(e: LoggedEvent) -> bool:
            # A new request of the client carries its client id; its later events are on a known aggregate.
            if client is None:
                return True
            if e.client_id == client:
                ids.add(e.subject_aggregate_id or "")
                return True
            return e.subject_aggregate_id in ids

        deadline = None if follow_seconds is None else time.monotonic() + follow_seconds
        while deadline is None or time.monotonic() < deadline:
            fresh: list[LoggedEvent] = []
            for name in names:
                subject = STREAMS[name].type_filter(event_type) if event_type else None
                new = await read_events(nc, name, start_seq=heads[name] + 1, filter_subject=subject)
                if new:
                    heads[name] = max(e.seq for e in new)
                fresh.extend(e for e in new if keep(e))
            show(sorted(fresh, key=lambda e: (e.occurred_at, e.service, e.seq)), "new events")
            await asyncio.sleep(0.5)
        return 0

    run(body)


@events_app.command("show")
def show(
    aggregate_id: str = typer.Argument(..., help="a client, request or other aggregate id"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Every event of one aggregate, in every service's stream, with envelopes and payloads."""
    try:
        check_token(aggregate_id, "aggregate id")
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None

    async def body(nc) -> int:
        found: list[LoggedEvent] = []
        for entry in services():
            found.extend(
                await read_events(nc, entry.name, filter_subject=f"{entry.stream.subject_root}.*.{aggregate_id}.*")
            )
        if not found:
            raise NothingFound(f"no events for aggregate {aggregate_id}")
        found.sort(key=lambda e: (e.occurred_at, e.service, e.seq))
        if as_json:
            emit_json([e.as_json() for e in found])
            return 0
        console.print(event_table(f"aggregate {aggregate_id}", found))
        for e in found:
            console.rule(f"{e.service} #{e.seq} {(e.envelope or {}).get('event_type', '?')}")
            console.print_json(data=e.envelope or {"error": e.error})
        return 0

    run(body)
