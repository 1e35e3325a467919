"""``baton projections status``: every projection of every service, and how far behind it is."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import datetime, timezone

import orjson
import typer
from rich.table import Table
from sqlalchemy import select

from baton_shared.contracts import stream_for
from baton_shared.projections.checkpoints import checkpoints
from baton_shared.projections.hearing import first_heard_after, subjects_heard
from baton_shared.projections.machine_share import default_parts, run_in_background
from baton_shared.projections.sql import make_engine

from baton_ops.terminal import console, emit_json, errors, run
from baton_ops.catalogue import NothingFound, UsageError, find_projection, projections_of, service_names, services
from baton_ops.event_log import seq_before, stream_info
from baton_ops.progress import progress as _progress

projections_app = typer.Typer(help="The services' projections.", no_args_is_help=True)


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
            db_error = None
            try:
                try:
                    async with engine.connect() as conn:
                        stored = {r.projection: r for r in (await conn.execute(select(checkpoints))).all()}
                except Exception as exc:  # noqa: BLE001 - reported per row
                    stored = {}
                    if not never_started(exc):
                        db_error = f"{type(exc).__name__}: {str(exc).splitlines()[0][:120]}"
                of_service = [(p, stream_for(p.source or entry.name)) for p in projections_of(entry.name)]
                by_stream: dict = {}
                for projection, spec in of_service:
                    by_stream.setdefault(spec, []).append(projection)
                # A feed delivered only the event types it folds counts its lag from the first of them.
                hearing = {spec: subjects_heard(spec, members) for spec, members in by_stream.items()}
                for projection, spec in of_service:
                    stream, hears = spec.name, hearing[spec]
                    if stream not in heads:
                        info = await stream_info(nc, stream)
                        heads[stream] = int(info["state"]["last_seq"]) if info else 0
                    key = f"{entry.name}.{projection.name}"
                    row = stored.get(key)
                    checkpoint = int(row.last_seq) if row else None
                    lag = None if checkpoint is None else max(0, heads[stream] - checkpoint)
                    lag_s, first = None, None if checkpoint is None else checkpoint + 1
                    if lag and hears is not None:
                        heard = await first_heard_after(nc, stream, hears, checkpoint)
                        first = None if heard is None else heard[0]
                        lag = 0 if first is None or first > heads[stream] else heads[stream] - first + 1
                    if lag:
                        first_unapplied = await stored_at(nc, stream, first)
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
            table = _table(
                "projections",
                ("projection", "stream", "checkpoint", "head", "lag", "lag (s)", "note"),
                numeric={"checkpoint", "head", "lag", "lag (s)"},
            )
            for r in rows:
                table.add_row(
                    r["projection"],
                    r["stream"],
                    _n(r["checkpoint"]),
                    _n(r["head"]),
                    _n(r["lag_events"]),
                    "" if r["lag_seconds"] is None else f"{r['lag_seconds']:.1f}",
                    f"[yellow]{r['error']}[/yellow]" if r["error"] else "",
                )
            console.print(table)
        return 1 if failed else 0

    run(body)


PARTS_HELP = (
    "processes that fold the copy side by side, by aggregate (PostgreSQL; projections with a row per "
    "aggregate; default: one per core idle when the rebuild starts, at most 2)"
)
FULL_PRIORITY_HELP = (
    "run at the usual CPU priority (default: the lowest, so that the live services beside it come first)"
)


def yield_to_live_services(full_priority: bool) -> None:
    if not full_priority:
        run_in_background(beside_a_server=every_database_a_server())


def every_database_a_server() -> bool:
    """Whether every service's database here is a server (PostgreSQL), not a SQLite file."""
    try:
        return not any(entry.database_url.startswith("sqlite") for entry in services())
    except UsageError:
        return False  # the command itself says what is wrong with the settings


def _parts(asked: int | None, job, idle_parts: Callable[[], int] = default_parts) -> int:  # noqa: ANN001
    """The parts asked for; else, for a copy that can split, as many as the idle cores allow
    (told from a 0.5 s sample, so not for one that cannot)."""
    if asked:
        return asked
    return idle_parts() if job.splits() else 1


def _table(title: str, columns: tuple[str, ...], numeric: set[str]) -> Table:
    table = Table(title=title)
    for column in columns:
        table.add_column(column, justify="right" if column in numeric else "left")
    return table


def never_started(exc: Exception) -> bool:
    """The database answers but holds no Baton tables yet: the service has not run."""
    return "no such table" in str(exc) or "does not exist" in str(exc)


def _n(value) -> str:  # noqa: ANN001
    return "-" if value is None else f"{value:,}"


@projections_app.command("rebuild")
def rebuild(
    name: str = typer.Argument(..., help="<service>.<projection>, e.g. intake.clients"),
    until_seq: int = typer.Option(None, "--until-seq", min=1, help="build a copy as of this stream position (no swap)"),
    as_of: datetime = typer.Option(
        None, "--as-of", help="build a copy as of this time, e.g. 2026-11-24T09:00:00+00:00 (no swap)"
    ),
    resume: bool = typer.Option(False, "--resume", help="continue an interrupted rebuild"),
    discard: bool = typer.Option(False, "--discard", help="drop an interrupted rebuild and stop"),
    force: bool = typer.Option(False, "--force", help="swap even if the rebuilt rows are not the live ones"),
    client: str = typer.Option(None, "--client", help="rebuild only this client's rows (one transaction, verified)"),
    parts: int = typer.Option(None, "--parts", min=1, max=16, help=PARTS_HELP),
    full_priority: bool = typer.Option(
        False, "--full-priority", envvar="BATON_REBUILD_FULL_PRIORITY", help=FULL_PRIORITY_HELP
    ),
    as_json: bool = typer.Option(False, "--json", help="machine-readable result"),
) -> None:
    """Rebuild a projection from the log beside the live tables, verify, swap in one transaction.

    The service keeps serving throughout. Interrupted, the live projection is untouched and the
    rebuild can be resumed (--resume) or discarded (--discard). --until-seq / --as-of build a
    point-in-time copy for inspection and never swap. --client replays only that client's
    events (read with subject filters) and replaces only that client's rows.
    """
    from baton_shared.contracts import registry
    from baton_shared.projections.rebuild import ProjectionRebuild, RebuildRefused, point_in_time

    if until_seq is not None and as_of is not None:
        raise typer.BadParameter("give --until-seq or --as-of, not both")
    if client is not None and (until_seq is not None or as_of is not None or resume or discard):
        raise typer.BadParameter(
            "--client rebuilds the live rows of one client; it goes with none of --until-seq, --as-of, --resume, --discard"
        )
    yield_to_live_services(full_priority)

    async def body(nc) -> int:
        entry, projection = find_projection(name)
        spec = stream_for(projection.source or entry.name)
        make = type(projection)
        if client is not None:
            return await _rebuild_client(nc, name, entry, make, spec, client, force, as_json)
        engine = make_engine(entry.database_url)
        try:
            if until_seq is not None or as_of is not None:
                until = until_seq if until_seq is not None else await seq_before(nc, spec.name, as_of)
                with _progress(f"copy of {name} at #{until}") as advance:
                    copy = await point_in_time(entry.name, make, engine, nc, spec, registry, until, progress=advance)
                tables = [t.name for t in copy.copy.metadata.sorted_tables]
                result = {"projection": name, "as_of_seq": until, "tables": tables, "swapped": False}
                emit_json(result) if as_json else console.print(
                    f"point-in-time copy at #{until} in: {', '.join(tables)}"
                )
                return 0
            job = ProjectionRebuild(entry.name, make, engine, spec, registry)
            under_way = await job.exists()
            if discard:
                await job.discard()
                console.print(
                    f"discarded the rebuild of {name}" if under_way is not None else f"no rebuild of {name} to discard"
                )
                return 0
            if under_way is not None and not resume:
                raise UsageError(
                    f"a rebuild of {name} is under way (at #{under_way}); --resume to continue it or --discard to drop it"
                )
            started = time.monotonic()
            with _progress(f"rebuilding {name}") as advance:
                applied = await job.build(nc, progress=advance, parts=_parts(parts, job))
            try:
                verification = await job.swap(nc, force=force)
            except RebuildRefused as exc:
                console.print(f"[red]{exc}[/red]")
                return 1
            elapsed = time.monotonic() - started
            result = {
                "projection": name,
                "applied": applied,
                "seconds": round(elapsed, 3),
                "events_per_second": round(applied / elapsed) if elapsed else None,
                "swapped": True,
                "verification": verification.as_json(),
            }
            if as_json:
                emit_json(result)
            else:
                console.print(f"rebuilt {name}: {applied:,} events in {elapsed:.1f}s; swapped in")
                for table, v in verification.tables.items():
                    note = "" if v["differing_rows"] in (0, None) else f", {v['differing_rows']} rows differ in content"
                    console.print(f"  {table}: {v['copy_rows']:,} rows, keys {v['copy_keys']} agree{note}")
            return 0
        finally:
            await engine.dispose()

    run(body)


async def _rebuild_client(nc, name, entry, make, spec, client, force, as_json) -> int:  # noqa: ANN001
    from baton_shared.contracts import registry
    from baton_shared.contracts.streams import check_token
    from baton_shared.projections.rebuild import ClientRebuild, RebuildRefused

    from baton_ops.journey import client_raw_events

    try:
        check_token(client, "client id")
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    started = time.monotonic()
    engine = make_engine(entry.database_url)
    try:
        try:
            job = ClientRebuild(entry.name, make, engine, spec, registry, client)
        except RebuildRefused as exc:
            raise UsageError(str(exc)) from None
        read_through, raws, anywhere = await client_raw_events(nc, client, spec)
        if not anywhere:
            raise NothingFound(f"no events of client {client} in any stream")
        try:
            applied, at, verification = await job.run(nc, raws, read_through, force=force)
        except RebuildRefused as exc:
            errors.print(f"[red]{exc}[/red]")
            return 1
    finally:
        await engine.dispose()
    elapsed = time.monotonic() - started
    result = {
        "projection": name,
        "client": client,
        "applied": applied,
        "checkpoint": at,
        "seconds": round(elapsed, 3),
        "replaced": True,
        "verification": verification.as_json(),
    }
    if as_json:
        emit_json(result)
    else:
        console.print(
            f"rebuilt the rows of client {client} in {name}: {applied:,} events, as of #{at}, in {elapsed:.2f}s"
        )
        for table, v in verification.tables.items():
            note = "" if v["differing_rows"] in (0, None) else f", {v['differing_rows']} rows differed in content"
            console.print(f"  {table}: {v['copy_rows']:,} rows (were {v['live_rows']:,}){note}")
    return 0


async def _started(engine, key: str) -> bool:  # noqa: ANN001
    """Has the projection's live runner ever run on this database (a checkpoint row)?"""
    try:
        async with engine.connect() as conn:
            return await conn.scalar(select(checkpoints.c.last_seq).where(checkpoints.c.projection == key)) is not None
    except Exception as exc:  # noqa: BLE001 - no Baton tables at all
        if never_started(exc):
            return False
        raise


@projections_app.command("verify")
def verify(
    names: list[str] = typer.Argument(None, help="<service>.<projection> (default: every projection of every service)"),
    service_name: str = typer.Option(None, "--service", help="every projection of this service"),
    parts: int = typer.Option(None, "--parts", min=1, max=16, help=PARTS_HELP),
    full_priority: bool = typer.Option(
        False, "--full-priority", envvar="BATON_REBUILD_FULL_PRIORITY", help=FULL_PRIORITY_HELP
    ),
    as_json: bool = typer.Option(False, "--json", help="machine-readable result"),
) -> None:
    """Compare projections row for row with a clean rebuild from the log; exit 1 if any differs.

    Each projection is folded from the whole log into throwaway tables beside the live
    ones, levelled with the live tables at one position (under the same lock a rebuild's
    swap takes) and compared: row counts, keys, and every column of every row. The copy is
    dropped; the live projection is left as it was (at most caught up). The services can
    keep running.
    """
    from baton_shared.contracts import registry
    from baton_shared.projections.rebuild import VERIFY_SUFFIX, ProjectionRebuild

    if names and service_name:
        raise typer.BadParameter("name projections or give --service, not both")
    yield_to_live_services(full_priority)

    async def body(nc) -> int:
        if names:
            chosen = [find_projection(n) for n in names]
        else:
            wanted = service_names(service_name)
            chosen = [(entry, p) for entry in services() if entry.name in wanted for p in projections_of(entry.name)]
        results = []
        idle = functools.cache(default_parts)  # asked once per command, between two copies
        for entry, projection in chosen:
            name = f"{entry.name}.{projection.name}"
            spec = stream_for(projection.source or entry.name)
            if await stream_info(nc, spec.name) is None:  # nothing written yet: nothing to compare
                results.append(
                    {
                        "projection": name,
                        "at_seq": None,
                        "agrees": True,
                        "tables": {},
                        "note": f"stream {spec.name} does not exist yet",
                    }
                )
                continue
            engine = make_engine(entry.database_url)
            try:
                if not await _started(engine, name):
                    results.append(
                        {
                            "projection": name,
                            "at_seq": None,
                            "agrees": True,
                            "tables": {},
                            "note": "never started in this database",
                        }
                    )
                    continue
                job = ProjectionRebuild(entry.name, type(projection), engine, spec, registry, suffix=VERIFY_SUFFIX)
                with _progress(f"verifying {name}") as advance:
                    at, verification = await job.verify(nc, progress=advance, parts=_parts(parts, job, idle))
            finally:
                await engine.dispose()
            results.append(
                {"projection": name, "at_seq": at, "agrees": verification.rows_agree, **verification.as_json()}
            )
        if as_json:
            emit_json(results)
        else:
            table = _table(
                "projections against a clean rebuild",
                ("projection", "at", "table", "rows", "rebuilt", "differing", "result"),
                numeric={"at", "rows", "rebuilt", "differing"},
            )
            for r in results:
                if "note" in r:
                    table.add_row(r["projection"], "-", "", "", "", "", r["note"])
                for table_name, t in r["tables"].items():
                    same = (
                        t["live_rows"] == t["copy_rows"]
                        and t["live_keys"] == t["copy_keys"]
                        and t["differing_rows"] == 0
                    )
                    table.add_row(
                        r["projection"],
                        _n(r["at_seq"]),
                        table_name,
                        _n(t["live_rows"]),
                        _n(t["copy_rows"]),
                        "keys differ" if t["differing_rows"] is None else _n(t["differing_rows"]),
                        "[green]same[/green]" if same else "[red]DIFFERS[/red]",
                    )
            console.print(table)
        differing = [r["projection"] for r in results if not r["agrees"]]
        if differing:
            errors.print(
                f"[red]{len(differing)} projection(s) differ from a clean rebuild: {', '.join(differing)}[/red]"
            )
        return 1 if differing else 0

    run(body)
