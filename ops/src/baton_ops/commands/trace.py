"""``baton trace``: one client's journey across every service, with what caused what."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from baton_shared.contracts.streams import check_token
from baton_shared.journey_picture import render_html, render_svg
from rich.table import Table

from baton_ops.catalogue import NothingFound, UsageError
from baton_ops.terminal import console, emit_json, run
from baton_ops.event_log import LoggedEvent, summary
from baton_ops.journey import journey_events, picture_events, scan_for

app = typer.Typer()  # ``baton trace``, registered at the top by baton_ops.cli


def in_order(events: list[LoggedEvent]) -> list[LoggedEvent]:
    return sorted(events, key=lambda e: (e.occurred_at, e.service, e.seq))


@app.command("trace")
def trace(
    key: str = typer.Argument(..., help="a client id or a correlation id (a request id is a journey's correlation id)"),
    scan: bool = typer.Option(False, "--scan", help="read every message of every stream instead of following subjects"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
    svg: Annotated[Path | None, typer.Option("--svg", help="draw the journey as swimlanes into this SVG file")] = None,
    html: Annotated[Path | None, typer.Option("--html", help="the same picture in a page with zoom controls")] = None,
) -> None:
    """The journey across all services in order, with causation links and the time between steps.

    --svg / --html draw it: one lane per service, one box per event in time order (runs
    of the same event collapsed, with a count), arrows from cause to effect with the
    time between, overdue work and refused contacts marked.

    Reads with subject filters: the key's own aggregate, then its client's aggregates
    (see baton_ops.journey). --scan reads everything, for a correlation id that is no
    aggregate's id.
    """

    async def body(nc) -> int:
        try:
            check_token(key, "client or correlation id")
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        for target in (svg, html):
            if target is not None and not target.parent.is_dir():
                raise UsageError(f"cannot write {target}: no folder {target.parent}")
        steps = in_order(await (scan_for(nc, key) if scan else journey_events(nc, key)))
        if not steps:
            hint = "" if scan else " (no aggregate has that id; --scan searches every event's correlation id)"
            raise NothingFound(f"no events for client or correlation id {key}{hint}")
        if svg is not None or html is not None:
            drawn = picture_events(steps)
            for target, render in ((svg, render_svg), (html, render_html)):
                if target is not None:
                    target.write_text(render(drawn, title=f"Journey of {key}"), encoding="utf-8")
                    if not as_json:
                        console.print(
                            f"drew {len(drawn)} events to {target}", soft_wrap=True, markup=False, highlight=False
                        )
            if not as_json:
                return 0
        index = {e.event_id: n for n, e in enumerate(steps, start=1) if e.event_id}
        rows = []
        previous = None
        for n, e in enumerate(steps, start=1):
            env = e.envelope or {}
            cause = env.get("causation_id")
            cause_step = index.get(cause)
            after_cause = (
                None if cause_step is None else (e.occurred_at - steps[cause_step - 1].occurred_at).total_seconds()
            )
            rows.append(
                {
                    "step": n,
                    "service": e.service,
                    "seq": e.seq,
                    "event_type": env.get("event_type"),
                    "event_id": e.event_id,
                    "occurred_at": e.occurred_at.isoformat(),
                    "since_previous_s": None
                    if previous is None
                    else round((e.occurred_at - previous).total_seconds(), 3),
                    "caused_by_step": cause_step,
                    "after_cause_s": None if after_cause is None else round(after_cause, 3),
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
            if r["caused_by_step"]:
                caused = f"#{r['caused_by_step']} (+{r['after_cause_s']:.3f}s)"
            else:  # caused by something outside the log (an HTTP call's correlation id)
                caused = f"[dim]{r['causation_id'][:12]}[/dim]" if r["causation_id"] else ""
            table.add_row(
                str(r["step"]),
                r["occurred_at"][:23],
                "" if r["since_previous_s"] is None else f"+{r['since_previous_s']:.3f}s",
                r["service"],
                r["event_type"] or "?",
                caused,
                r["actor"] or "",
                r["summary"],
            )
        console.print(table)
        return 0

    run(body)
