"""``baton parked list | show | retry | drop``: events a projection or reaction gave up on."""

from __future__ import annotations

import orjson
import typer
from rich.table import Table
from sqlalchemy import select

from baton_shared.projections.checkpoints import parked_events, unpark
from baton_shared.projections.sql import make_engine

from baton_ops.catalogue import NothingFound, UsageError, find_owner, service_names, services
from baton_ops.terminal import console, emit_json, run
from baton_ops.retry import retry_one

parked_app = typer.Typer(help="Events a projection or reaction gave up on.", no_args_is_help=True)


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
    service_names(owner.split(".", 1)[0])  # an unknown service is a usage error, not "nothing parked"
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
            table.add_row(
                r["ref"], r["stream"], r["subject"], str(r["tries"]), str(r["parked_at"])[:19], r["error"][:200]
            )
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


@parked_app.command("retry")
def retry_parked(
    ref: str = typer.Argument(None, help="<owner>#<seq>, as `baton parked list` shows"),
    every: bool = typer.Option(False, "--all", help="retry every parked event (oldest position first per owner)"),
    owner: str = typer.Option(
        None, "--owner", help="with --all: only this projection's or reaction's, e.g. intake.clients"
    ),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
) -> None:
    """Put parked events back through the same projection or reaction code; forget those that succeed.

    A projection's event is applied in one transaction that also forgets it, without
    moving the projection's checkpoint (it is past the event already). A reaction's
    cause is handled again (reactions are idempotent: nothing is appended twice).
    One that fails again stays parked with its new error and one more try. Exit 1
    if any failed.
    """

    async def body(nc) -> int:
        if (ref is None) == (not every):
            raise UsageError("name one parked event (<owner>#<seq>) or give --all")
        if owner is not None and not every:
            raise UsageError("--owner goes with --all")
        if every:
            if owner is not None:
                find_owner(owner)  # an unknown one is a usage error, not "nothing parked"
            rows = await _all_parked(owner)
        else:
            rows = [(await _one(ref))[2]]
        rows.sort(key=lambda r: (r["projection"], r["stream"], r["seq"]))
        results = [await retry_one(nc, row) for row in rows]
        if as_json:
            emit_json(results)
        elif not results:
            console.print("no parked events")
        for r in [] if as_json else results:
            if r["ok"]:
                later = r.get("later_events_of_aggregate")
                note = (
                    f" [yellow](after {later} later events of its aggregate; if order matters to this "
                    "projection, rebuild the client's rows with --client)[/yellow]"
                    if later
                    else ""
                )
                console.print(f"{r['ref']}: {r['outcome']}{note}")
            else:
                console.print(f"{r['ref']}: [red]{r['outcome']}[/red]: {r['error']}")
        return 0 if all(r["ok"] for r in results) else 1

    run(body)


@parked_app.command("drop")
def drop_parked(
    ref: str = typer.Argument(..., help="<owner>#<seq>, as `baton parked list` shows"),
    yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable output"),
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
                await unpark(conn, owner, row["stream"], seq)
        finally:
            await engine.dispose()
        emit_json({"ref": ref, "dropped": True}) if as_json else console.print(f"dropped {ref}")
        return 0

    run(body, needs_nats=False)
