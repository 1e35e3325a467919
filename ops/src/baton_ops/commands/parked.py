"""``baton parked list | show | drop``: events a projection or reaction gave up on."""

from __future__ import annotations

import orjson
import typer
from rich.table import Table
from sqlalchemy import delete, select

from baton_shared.projections.checkpoints import parked_events
from baton_shared.projections.sql import make_engine

from baton_ops.catalogue import NothingFound, UsageError, services
from baton_ops.cli import console, emit_json, parked_app, run


def parse_ref(ref: str) -> tuple[str, int]:
    """``<owner>#<seq>``, e.g. ``intake.clients#42`` or ``delivery.reaction.intake_requests#7``."""
    owner, _, seq = ref.rpartition("#")
    if not owner or not seq.isdigit():
        raise UsageError(f"name a parked event as <owner>#<seq>, e.g. intake.clients#42 (got {ref!r})")
    return owner, int(seq)


async def _all_parked(owner: str | None = None, seq: int | None = None) -> list[dict]:
    rows = []
    for entry in services():
        if owner is not None and owner.split(".", 1)[0] != entry.name:
            continue
        engine = make_engine(entry.database_url)
        try:
            async with engine.connect() as conn:
                query = select(parked_events).order_by(parked_events.c.parked_at)
                if owner is not None:
                    query = query.where(parked_events.c.projection == owner)
                if seq is not None:
                    query = query.where(parked_events.c.seq == seq)
                try:
                    result = await conn.execute(query)
                except Exception as exc:  # noqa: BLE001 - the table exists once the service has run
                    if "no such table" in str(exc) or "does not exist" in str(exc):
                        continue
                    raise
                rows.extend({"service": entry.name, **dict(r)} for r in result.mappings())
        finally:
            await engine.dispose()
    return rows


async def _one(ref: str) -> tuple[str, int, dict]:
    """The parked event ``ref`` names (owner, seq, row), or NothingFound."""
    owner, seq = parse_ref(ref)
    rows = await _all_parked(owner, seq)
    if not rows:
        raise NothingFound(f"no parked event {ref}")
    return owner, seq, rows[0]


def _brief(row: dict) -> dict:
    return {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items() if k != "data"} | {
        "ref": f"{row['projection']}#{row['seq']}"
    }


@parked_app.command("list")
def list_parked(as_json: bool = typer.Option(False, "--json", help="machine-readable output")) -> None:
    """Every parked event of every service, oldest first, with its error and tries."""

    async def body(_nc) -> int:
        rows = [_brief(r) for r in await _all_parked()]
        if as_json:
            emit_json(rows)
            return 0
        if not rows:
            console.print("no parked events")
            return 0
        table = Table(title="parked events")
        for column in ("ref", "stream", "subject", "tries", "parked at", "error"):
            table.add_column(column, overflow="fold")
        for r in rows:
            table.add_row(r["ref"], r["stream"], r["subject"], str(r["tries"]), str(r["parked_at"])[:19], r["error"][:200])
        console.print(table)
        return 0

    run(body, needs_nats=False)


@parked_app.command("show")
def show_parked(
    ref: str = typer.Argument(..., help="<owner>#<seq>, as `baton parked list` shows"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """One parked event: its error, tries and the message as stored."""

    async def body(_nc) -> int:
        _, _, row = await _one(ref)
        try:
            message = orjson.loads(row["data"])
        except orjson.JSONDecodeError:
            message = row["data"].decode("utf-8", "replace")
        out = _brief(row) | {"message": message}
        if as_json:
            emit_json(out)
        else:
            console.print_json(data=out)
        return 0

    run(body, needs_nats=False)


@parked_app.command("drop")
def drop_parked(
    ref: str = typer.Argument(..., help="<owner>#<seq>, as `baton parked list` shows"),
    yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
) -> None:
    """Forget a parked event (the event stays in the log; only the parking record goes)."""

    async def body(_nc) -> int:
        owner, seq, row = await _one(ref)
        if not yes and not typer.confirm(f"drop parked event {ref} ({row['error'][:80]})?"):
            return 1
        entry = next(e for e in services() if e.name == row["service"])
        engine = make_engine(entry.database_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    delete(parked_events).where(parked_events.c.projection == owner, parked_events.c.seq == seq)
                )
        finally:
            await engine.dispose()
        console.print(f"dropped {ref}")
        return 0

    run(body, needs_nats=False)
