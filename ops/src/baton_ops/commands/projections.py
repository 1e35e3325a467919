"""``baton projections status``: every projection of every service, and how far behind it is."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
import typer
from rich.table import Table
from sqlalchemy import select

from baton_shared.contracts import stream_for
from baton_shared.projections.checkpoints import checkpoints
from baton_shared.projections.sql import make_engine

from baton_ops.cli import console, emit_json, projections_app, run
from baton_ops.catalogue import projections_of, services
from baton_ops.event_log import stream_info


async def stored_at(nc, stream: str, seq: int) -> datetime | None:
    reply = await nc.request(f"$JS.API.DIRECT.GET.{stream}", orjson.dumps({"seq": seq}), timeout=5)
    stamp = (reply.headers or {}).get("Nats-Time-Stamp")
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")[:26] + "+00:00") if stamp else None


@projections_app.command("status")
def status(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Checkpoint, stream head and lag (events and seconds) of every projection."""

    async def body(nc) -> int:
        rows, failed = [], False
        heads: dict[str, int] = {}
        for entry in services():
            engine = make_engine(entry.database_url)
            try:
                try:
                    async with engine.connect() as conn:
                        stored = {
                            r.projection: r
                            for r in (await conn.execute(select(checkpoints))).all()
                        }
                    db_error = None
                except Exception as exc:  # noqa: BLE001 - reported per row
                    stored, db_error = {}, f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                for projection in projections_of(entry.name):
                    stream = stream_for(projection.source or entry.name).name
                    if stream not in heads:
                        info = await stream_info(nc, stream)
                        heads[stream] = int(info["state"]["last_seq"]) if info else 0
                    key = f"{entry.name}.{projection.name}"
                    row = stored.get(key)
                    checkpoint = int(row.last_seq) if row else None
                    lag = None if checkpoint is None else max(0, heads[stream] - checkpoint)
                    lag_s = None
                    if lag:
                        first_unapplied = await stored_at(nc, stream, checkpoint + 1)
                        if first_unapplied:
                            lag_s = round((datetime.now(timezone.utc) - first_unapplied).total_seconds(), 3)
                    elif lag == 0:
                        lag_s = 0.0
                    failed |= db_error is not None
                    rows.append(
                        {
                            "projection": key,
                            "stream": stream,
                            "checkpoint": checkpoint,
                            "head": heads[stream],
                            "lag_events": lag,
                            "lag_seconds": lag_s,
                            "updated_at": row.updated_at.isoformat() if row else None,
                            "error": db_error if db_error else (None if row else "no checkpoint yet (never started)"),
                        }
                    )
            finally:
                await engine.dispose()
        if as_json:
            emit_json(rows)
        else:
            table = Table(title="projections")
            for column in ("projection", "stream", "checkpoint", "head", "lag", "lag (s)", "note"):
                table.add_column(column, justify="right" if column in ("checkpoint", "head", "lag", "lag (s)") else "left")
            for r in rows:
                table.add_row(
                    r["projection"], r["stream"], _n(r["checkpoint"]), _n(r["head"]), _n(r["lag_events"]),
                    "" if r["lag_seconds"] is None else f"{r['lag_seconds']:.1f}", f"[yellow]{r['error']}[/yellow]" if r["error"] else "",
                )
            console.print(table)
        return 1 if failed else 0

    run(body)


def _n(value) -> str:  # noqa: ANN001
    return "-" if value is None else f"{value:,}"
