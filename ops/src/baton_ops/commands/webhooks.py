"""``baton webhooks list | show``: each webhook's position, lag, last error and parked deliveries.

Read from notify's database (and the streams' heads); pausing, resuming and replaying are
notify's API (``POST /v1/webhooks/{id}/pause|resume|replay``), which records who did it.
"""

from __future__ import annotations

import typer
from rich.table import Table
from sqlalchemy import select

from baton_shared.eventstore.provisioning import js_api
from baton_shared.projections.sql import json_row, make_engine

from baton_ops.catalogue import NothingFound, service
from baton_ops.terminal import console, emit_json, run

webhooks_app = typer.Typer(
    help="Webhook subscriptions (notify): position, lag, last error, parked.", no_args_is_help=True
)


async def _heads(nc, streams: set[str]) -> dict[str, int]:
    heads = {}
    for stream in streams:
        try:
            heads[stream] = int((await js_api(nc, f"STREAM.INFO.{stream}"))["state"]["last_seq"])
        except Exception:  # noqa: BLE001 - a stream not made yet holds nothing
            heads[stream] = 0
    return heads


async def _webhooks(nc, webhook_id: str | None = None) -> list[dict]:
    from baton_notify.deliveries import state
    from baton_notify.projections import WebhooksProjection

    table = WebhooksProjection().webhooks
    engine = make_engine(service("notify").database_url)
    try:
        async with engine.connect() as conn:
            query = select(table).order_by(table.c.created_at)
            if webhook_id is not None:
                query = query.where(table.c.webhook_id == webhook_id)
            try:
                rows = [json_row(r) for r in (await conn.execute(query)).mappings()]
            except Exception as exc:  # noqa: BLE001 - the tables exist once notify has run
                if "no such table" in str(exc) or "does not exist" in str(exc):
                    return []
                raise
            cursors = [json_row(r) for r in (await conn.execute(select(state.cursors))).mappings()]
            parked = [json_row(r) for r in (await conn.execute(select(state.parked))).mappings()]
    finally:
        await engine.dispose()
    heads = await _heads(nc, {c["stream"] for c in cursors})
    for row in rows:
        row.pop("wrapped_secret", None)
        mine = [c for c in cursors if c["webhook_id"] == row["webhook_id"]]
        row["streams"] = [
            {
                "stream": c["stream"],
                "position": c["position"],
                "head": heads.get(c["stream"], 0),
                "lag": max(0, heads.get(c["stream"], 0) - c["position"]),
                "delivered": c["delivered"],
                "attempts": c["attempts"],
                "last_error": c["last_error"],
                "last_error_at": c["last_error_at"],
            }
            for c in mine
        ]
        row["parked"] = [p for p in parked if p["webhook_id"] == row["webhook_id"]]
    return rows


@webhooks_app.command("list")
def list_webhooks(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Every webhook with its status, lag per stream, last error and parked count."""

    async def body(nc) -> int:
        rows = await _webhooks(nc)
        if as_json:
            emit_json(rows)
            return 0
        table = Table("webhook", "status", "url", "lag", "delivered", "last error", "parked")
        for row in rows:
            table.add_row(
                row["webhook_id"],
                row["status"],
                row["url"],
                ", ".join(f"{s['stream']} {s['lag']}" for s in row["streams"]) or "-",
                str(sum(s["delivered"] for s in row["streams"])),
                next((s["last_error"] for s in row["streams"] if s["last_error"]), "") or "",
                str(len(row["parked"])),
            )
        console.print(table)
        return 0

    run(body)


@webhooks_app.command("show")
def show(webhook_id: str, as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """One webhook: per stream position, head, lag, the failure being retried; parked deliveries."""

    async def body(nc) -> int:
        rows = await _webhooks(nc, webhook_id)
        if not rows:
            raise NothingFound(f"no webhook {webhook_id}")
        [row] = rows
        if as_json:
            emit_json(row)
            return 0
        console.print(
            f"[bold]{row['webhook_id']}[/bold] {row['status']} → {row['url']}  ({', '.join(row['event_types'])})"
        )
        table = Table("stream", "position", "head", "lag", "delivered", "attempts", "last error")
        for s in row["streams"]:
            table.add_row(
                s["stream"],
                str(s["position"]),
                str(s["head"]),
                str(s["lag"]),
                str(s["delivered"]),
                str(s["attempts"]),
                s["last_error"] or "",
            )
        console.print(table)
        for p in row["parked"]:
            console.print(
                f"parked: {p['stream']}#{p['seq']} {p['event_type']} {p['event_id']} after {p['attempts']} tries: {p['error']}"
            )
        return 0

    run(body)
