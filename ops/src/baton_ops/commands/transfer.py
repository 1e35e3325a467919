"""``baton export`` and ``baton import``: the log as JSON lines, for audits and migrations.

One line per message: service, stream, seq, subject, stored_at, event_id and the
envelope exactly as stored. Import goes into empty streams: it refuses, before
writing anything, a malformed file and a stream holding events the file does not
have (an earlier import of the same file is fine: it is resumed). It creates the
streams if needed and skips events whose id the stream already holds, so
importing the same file twice stores nothing twice. Order is kept; sequences are
the new stream's.

After an import the record of forgotten clients (``BATON_FORGOTTEN_DIR``, default
``<BATON_DATA_DIR>/forgotten``) is applied again, as intake does at start: an export
taken before a forget, or a ``CLIENT_KEYS`` carried over from an older backup, never
makes a forgotten client's contacts readable again (``baton_shared.forgotten``).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime
from pathlib import Path

import orjson
import typer

from baton_shared.contracts import STREAMS, registry
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import ensure_stream
from baton_shared.eventstore.reader import read_stream

from baton_ops.catalogue import UsageError, service_names
from baton_ops.terminal import console, emit_json, errors, run
from baton_ops.event_log import seq_before, stream_info
from baton_ops.progress import progress

app = typer.Typer()  # ``baton export`` and ``baton import``, registered at the top by baton_ops.cli


@app.command("export")
def export(
    to: Path = typer.Option(..., "--to", help="the JSON-lines file to write"),
    service: str = typer.Option(None, "--service", "-s", help="only this service's stream"),
    since: datetime = typer.Option(None, "--since", help="only messages stored at or after this time (with a zone)"),
    as_json: bool = typer.Option(False, "--json", help="machine-readable summary"),
) -> None:
    """Write the log (or one service's stream) to a JSON-lines file."""

    async def body(nc) -> int:
        names = service_names(service)
        if since is not None and since.tzinfo is None:
            raise UsageError("give --since with a time zone, e.g. 2026-11-24T09:00:00+00:00")
        if not to.parent.is_dir():
            raise UsageError(f"cannot write {to}: no folder {to.parent}")
        written: dict[str, int] = {}
        with to.open("wb") as out:
            for name in names:
                stream = STREAMS[name].name
                info = await stream_info(nc, stream)
                if info is None:
                    continue
                written[name] = 0
                start = 1 if since is None else await seq_before(nc, stream, since) + 1
                with progress(f"exporting {stream}") as advance:
                    async for batch in read_stream(nc, stream, start_seq=start, end_seq=int(info["state"]["last_seq"])):
                        advance(batch[-1].seq, int(info["state"]["last_seq"]))
                        written[name] += _write(out, name, stream, batch, since)
        total = sum(written.values())
        emit_json({"file": str(to), "messages": total, "by_service": written}) if as_json else console.print(
            f"exported {total:,} messages to {to}"
        )
        return 0

    run(body)


def _write(out, name: str, stream: str, batch, since: datetime | None) -> int:
    written = 0
    for raw in batch:
        stored_at = datetime.fromtimestamp(raw.timestamp_ns / 1e9, tz=UTC)
        if since is not None and stored_at < since:
            continue
        try:
            envelope = orjson.loads(raw.data)
        except orjson.JSONDecodeError:
            envelope = None
        line = {
            "service": name,
            "stream": stream,
            "seq": raw.seq,
            "subject": raw.subject,
            "stored_at": stored_at.isoformat(),
            "event_id": envelope.get("event_id") if isinstance(envelope, dict) else None,
            "data": raw.data.decode("utf-8", "replace"),
        }
        out.write(orjson.dumps(line) + b"\n")
        written += 1
    return written


@app.command("import")
def import_(
    source: Path = typer.Argument(
        ..., exists=True, dir_okay=False, readable=True, help="a file written by `baton export`"
    ),
    as_json: bool = typer.Option(False, "--json", help="machine-readable summary"),
) -> None:
    """Append an exported log to empty streams, keeping event ids; nothing is stored twice."""

    async def body(nc) -> int:
        lines = _read(source)
        by_service: dict[str, list[dict]] = {}
        for line in lines:
            by_service.setdefault(line["service"], []).append(line)
        # Everything is checked before anything is written.
        present: dict[str, set[str]] = {}
        for name, items in by_service.items():
            present[name] = await _event_ids(nc, STREAMS[name].name)
            strangers = present[name] - {_identity(i["subject"], i["data"].encode(), i["event_id"]) for i in items}
            if strangers:
                raise UsageError(
                    f"stream {STREAMS[name].name} holds {len(strangers):,} events that are not in {source}; "
                    "import goes into an empty stream (or one holding an earlier import of this file)"
                )
        stored = skipped = 0
        for name, items in by_service.items():
            spec = STREAMS[name]
            await ensure_stream(nc, spec)
            js = nc.jetstream()
            pending = []
            with progress(f"importing into {spec.name}") as advance:
                for n, item in enumerate(items, start=1):
                    identity = _identity(item["subject"], item["data"].encode(), item["event_id"])
                    if identity in present[name]:
                        skipped += 1
                        continue
                    present[name].add(identity)
                    headers = {"Nats-Msg-Id": identity}
                    pending.append(
                        js.publish(item["subject"], item["data"].encode(), stream=spec.name, headers=headers)
                    )
                    if len(pending) >= 256:
                        stored += len(await asyncio.gather(*pending))
                        pending = []
                        advance(n, len(items))
                stored += len(await asyncio.gather(*pending))
                advance(len(items), len(items))
        forgetting = await _forget_again(nc)
        if as_json:
            emit_json({"file": str(source), "imported": stored, "already_present": skipped, "forgetting": forgetting})
        else:
            console.print(f"imported {stored:,} messages; {skipped:,} already present")
            console.print(
                f"forgotten clients: {forgetting['recorded']:,} recorded, {forgetting['written_from_log']:,} added "
                f"from the log, {forgetting['keys_destroyed']:,} keys destroyed again, "
                f"{forgetting['events_appended']:,} ClientForgotten appended again"
            )
        return 0

    run(body)


async def _forget_again(nc) -> dict[str, int]:
    """The record of forgotten clients applied to what was imported: the log and the record."""
    from baton_shared.forgotten import ForgottenClients, reapply_forgetting
    from baton_shared.service.settings import BatonSettings

    record = ForgottenClients(BatonSettings().forgotten_folder())
    found = record.folder.is_dir()
    if not found:
        errors.print(
            f"[yellow]no record of forgotten clients at {record.folder} (BATON_FORGOTTEN_DIR): only the log's "
            "ClientForgotten events were applied, and no record was made here[/yellow]"
        )
    # The ops user never touches the clients' keys (deploy/nats/permissions.conf): a key that
    # came back with a restored store is destroyed by intake, which applies the record before
    # it serves anything (and again after every reconnection).

    async def held(client_ids: set[str]) -> set[str]:
        return set()

    async def destroy(client_id: str) -> bool:
        return False

    store = JetStreamEventStore(nc, STREAMS["intake"], registry)
    outcome = await reapply_forgetting(nc, record, store, held, destroy, write_back=found)
    return outcome.as_dict()


def _read(source: Path) -> list[dict]:
    """Every line, checked before anything is written."""
    out = []
    with source.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            if not raw.strip():
                continue
            try:
                line = orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                raise UsageError(f"{source}:{number}: not JSON ({exc})") from None
            if not isinstance(line, dict):
                raise UsageError(f"{source}:{number}: expected an object")
            missing = [k for k in ("service", "subject", "data") if not isinstance(line.get(k), str)]
            if missing:
                raise UsageError(f"{source}:{number}: missing or not text: {', '.join(missing)}")
            if line["service"] not in STREAMS:
                raise UsageError(f"{source}:{number}: unknown service {line['service']!r}")
            if not line["subject"].startswith(STREAMS[line["service"]].subject_root + "."):
                raise UsageError(
                    f"{source}:{number}: subject {line['subject']!r} is not in the {line['service']} stream"
                )
            line.setdefault("event_id", None)
            out.append(line)
    return out


async def _event_ids(nc, stream: str) -> set[str]:
    ids: set[str] = set()
    if await stream_info(nc, stream) is None:
        return ids
    async for batch in read_stream(nc, stream):
        for raw in batch:
            try:
                event_id = orjson.loads(raw.data).get("event_id")
            except (orjson.JSONDecodeError, AttributeError):
                event_id = None
            ids.add(_identity(raw.subject, raw.data, event_id))
    return ids


def _identity(subject: str, data: bytes, event_id: str | None) -> str:
    """The event id; for a message without one (unreadable), a digest of subject and bytes."""
    if event_id:
        return event_id
    return "sha256:" + hashlib.sha256(subject.encode() + b"\x00" + data).hexdigest()
