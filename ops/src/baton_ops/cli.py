"""The ``baton`` command line: every command group, registered on one app."""

from __future__ import annotations

import typer

from baton_shared.service.garbage_collection import BULK_THRESHOLDS, tune_garbage_collection

from baton_ops.commands import events, parked, projections, reports, streams, trace, transfer, webhooks

app = typer.Typer(help="Ops tool for Baton's event log: inspect, trace, lag, parked events.", no_args_is_help=True)
app.add_typer(events.events_app, name="events")
app.add_typer(projections.projections_app, name="projections")
app.add_typer(parked.parked_app, name="parked")
app.add_typer(webhooks.webhooks_app, name="webhooks")
for commands in (streams.app, trace.app, transfer.app, reports.app):
    app.add_typer(commands)  # without a name: its commands sit at the top (``baton streams``)


def main() -> None:
    # CPython's default thresholds ran a full collection about every other batch of a rebuild.
    tune_garbage_collection(BULK_THRESHOLDS)
    app()
