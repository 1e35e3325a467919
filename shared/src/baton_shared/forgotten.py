"""The record of forgotten clients: what keeps a restored backup from undoing a forget.

The clients' data keys live in the broker's store beside the log, so a copy of that
store taken before a forget still holds the forgotten client's key. The record is kept
apart from it: one file per forgotten client (named by the client id, holding nothing
personal), in its own folder (``BATON_FORGOTTEN_DIR``; ``<data_dir>/forgotten`` in the
embedded run, its own volume in compose). A forget writes its file durably before the
key is destroyed; intake applies the record again at every start (and after every
reconnection to the broker), and so does ``baton import``:

- a recorded client's key is destroyed again if it is back;
- a recorded client whose ``ClientForgotten`` is missing from the log (a log restored
  from before the forget) gets it appended again, so every projection blanks its sealed
  contacts as the first erasure did;
- a ``ClientForgotten`` in the log that the record lacks (a record restored older than
  the log, or lost) is written to the record, and that client's key destroyed too.

Files, not one file: replicas sharing the folder each write their own, never the same
bytes; copies of the record merge by union (a forget is never undone).
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson
from nats.aio.client import Client as NATS

from baton_shared.contracts.intake import ClientForgotten
from baton_shared.contracts.streams import check_token, stream_for
from baton_shared.events.envelope import derived_event_id
from baton_shared.eventstore.port import ConcurrencyConflict, EventStore, NewEvent
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api
from baton_shared.eventstore.reader import read_stream
from baton_shared.observability.logging import get_logger

log = get_logger("baton.forgotten")
RECORD_ACTOR = "record-of-forgotten-clients"
IN_FLIGHT = 64  # keys destroyed or events appended at once when the record is applied


class ForgottenClients:
    """The record: a folder with one file per forgotten client id."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._known: set[str] = set()  # what this process read or wrote

    def holds(self, client_id: str) -> bool:
        """Whether this process knows the client is forgotten (without reading the folder)."""
        return client_id in self._known

    async def add(self, client_id: str) -> None:
        """Record the client as forgotten; on disk (fsynced) when this returns."""
        check_token(client_id, "client id")
        await asyncio.to_thread(self._write, client_id)
        self._known.add(client_id)

    async def read(self) -> set[str]:
        """Every client id in the record (an absent folder is an empty record)."""
        found = await asyncio.to_thread(self._list)
        self._known |= found
        return found

    def _write(self, client_id: str) -> None:
        path = self.folder / client_id
        if path.exists():
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        body = orjson.dumps({"client_id": client_id, "forgotten_at": datetime.now(UTC).isoformat()})
        temporary = self.folder / f".{client_id}.{secrets.token_hex(4)}.tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        try:
            os.write(fd, body + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temporary, path)  # whole or absent, never half a file
        folder = os.open(self.folder, os.O_RDONLY)
        try:
            os.fsync(folder)  # the new name survives a crash too
        finally:
            os.close(folder)

    def _list(self) -> set[str]:
        if not self.folder.is_dir():
            return set()
        found = set()
        for entry in os.scandir(self.folder):
            if entry.name.startswith(".") or not entry.is_file():
                continue  # a write that never finished, or something else's
            try:
                found.add(check_token(entry.name, "client id"))
            except ValueError:
                log.warning("not a client id in the record of forgotten clients", file=entry.path)
        return found


@dataclass(frozen=True, slots=True)
class Reapplied:
    recorded: int  # clients in the record before this
    written_from_log: int  # ClientForgotten events the record lacked, now recorded
    keys_destroyed: int  # keys that were back (a restored store) and are gone again
    events_appended: int  # ClientForgotten appended again to a log restored from before the forget

    def as_dict(self) -> dict[str, int]:
        return {
            "recorded": self.recorded,
            "written_from_log": self.written_from_log,
            "keys_destroyed": self.keys_destroyed,
            "events_appended": self.events_appended,
        }


async def forgotten_in_log(nc: NATS) -> set[str]:
    """The clients whose ``ClientForgotten`` is in intake's stream (none if it does not exist)."""
    spec = stream_for("intake")
    try:
        await js_api(nc, f"STREAM.INFO.{spec.name}")
    except JetStreamApiError as exc:
        if exc.err_code == 10059:  # no stream yet
            return set()
        raise
    found: set[str] = set()
    async for batch in read_stream(nc, spec.name, filter_subject=spec.type_filter("ClientForgotten")):
        found.update(raw.subject.split(".")[2] for raw in batch)
    return found


async def record_in_log(store: EventStore, client_id: str, attempts: int = 5) -> bool:
    """Append ``ClientForgotten`` for a recorded client whose log lacks it. Nothing for a
    client the log does not know (nothing sealed of theirs is in it). True if appended."""
    for _ in range(attempts):
        history = await store.history("client", client_id)
        types = {e.envelope.event_type for e in history.events}
        if "ClientRegistered" not in types or "ClientForgotten" in types:
            return False
        event = NewEvent(
            ClientForgotten(client_id=client_id),
            correlation_id=client_id,
            actor=RECORD_ACTOR,
            event_id=derived_event_id(client_id, "ClientForgotten"),  # every replica appends the same event
        )
        try:
            await store.append("client", client_id, history.version, [event])
            return True
        except ConcurrencyConflict:
            continue  # another writer (a replica doing the same): look again
    raise ConcurrencyConflict(f"client {client_id}", history.version, "kept changing while forgetting it again")


async def reapply_forgetting(
    nc: NATS,
    record: ForgottenClients,
    store: EventStore,
    keys_held: Callable[[set[str]], Awaitable[set[str]]],
    destroy_key: Callable[[str], Awaitable[bool]],
    write_back: bool = True,
) -> Reapplied:
    """Make the broker agree with the record and the record with the log (see the module).
    ``keys_held`` says which forgotten clients have a key again, ``destroy_key`` destroys one;
    ``write_back`` False leaves the record as it is (a tool run where no record is)."""
    recorded = await record.read()
    in_log = await forgotten_in_log(nc)
    for client_id in sorted(in_log - recorded) if write_back else ():
        await record.add(client_id)
    destroyed = await _count(destroy_key, await keys_held(recorded | in_log))
    appended = await _count(lambda client_id: record_in_log(store, client_id), recorded - in_log)
    outcome = Reapplied(len(recorded), len(in_log - recorded) if write_back else 0, destroyed, appended)
    if outcome.written_from_log or outcome.keys_destroyed or outcome.events_appended:
        log.warning("forgetting applied again (a store or a record restored from a backup?)", **outcome.as_dict())
    return outcome


async def _count(step: Callable[[str], Awaitable[bool]], client_ids: set[str]) -> int:
    """``step`` for every client, ``IN_FLIGHT`` at a time (one by one, a start after restoring
    many forgotten clients waits on a round trip each); how many returned True."""
    window = asyncio.Semaphore(IN_FLIGHT)

    async def one(client_id: str) -> bool:
        async with window:
            return await step(client_id)

    return sum(await asyncio.gather(*(one(c) for c in sorted(client_ids))))
