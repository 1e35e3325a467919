"""``baton streams``: each service's stream."""

from __future__ import annotations

import typer
from rich.table import Table

from baton_shared.eventstore.provisioning import js_api

from baton_ops.catalogue import services
from baton_ops.terminal import console, emit_json, run
from baton_ops.event_log import stream_info

app = typer.Typer()  # ``baton streams``, registered at the top by baton_ops.cli


@app.command("streams")
def streams(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Each service's stream: subjects, messages, bytes, first and last sequence, consumers."""

    async def body(nc) -> int:
        rows = []
        for entry in services():
            info = await stream_info(nc, entry.stream.name)
            if info is None:
                rows.append({"service": entry.name, "stream": entry.stream.name, "exists": False})
                continue
            names = (await js_api(nc, f"CONSUMER.NAMES.{entry.stream.name}")).get("consumers") or []
            state, config = info["state"], info["config"]
            rows.append(
                {
                    "service": entry.name,
                    "stream": entry.stream.name,
                    "exists": True,
                    "subjects": config["subjects"],
                    "replicas": config.get("num_replicas", 1),
                    "messages": state["messages"],
                    "bytes": state["bytes"],
                    "first_seq": state["first_seq"],
                    "last_seq": state["last_seq"],
                    "consumers": sorted(names),
                }
            )
        if as_json:
            emit_json(rows)
            return 0
        table = Table(title="Baton streams")
        for column in ("service", "stream", "subjects", "messages", "bytes", "first", "last", "consumers"):
            table.add_column(column, justify="right" if column in ("messages", "bytes", "first", "last") else "left")
        for row in rows:
            if not row["exists"]:
                table.add_row(row["service"], row["stream"], "[dim]not created yet[/dim]", "", "", "", "", "")
                continue
            table.add_row(
                row["service"],
                row["stream"],
                ", ".join(row["subjects"]),
                f"{row['messages']:,}",
                f"{row['bytes']:,}",
                str(row["first_seq"]),
                str(row["last_seq"]),
                "\n".join(row["consumers"]) or "-",
            )
        console.print(table)
        return 0

    run(body)
