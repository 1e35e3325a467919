"""Finding a client's events, or one journey's, with subject filters instead of full scans.

Subjects carry aggregate ids (``<root>.<aggregate type>.<id>.<EventType>``), so the
events of known aggregates are read with subject filters and JetStream's subject
index does the searching. A client's footprint is:

- every aggregate whose id is the client id, in every stream (intake's and
  follow-up's client aggregates);
- every aggregate a *link event* ties to the client: intake's ``NeedCaptured``
  says which client a request belongs to, and the request id is also the id of
  delivery's aggregate for that request (``LINKS``). Where a projection keeps the
  link by client (intake's requests, notify's notices), its rows give the ids up to
  its checkpoint and only the link events after it are read; otherwise, or when
  that database cannot be read, every link event is read (a type filter), and only
  those whose bytes contain the client id are decoded. So a trace costs the
  client's own events plus the projection's lag, not the log's size.

Every payload carries ``client_id`` (see the contracts), which is what the
footprint is checked against. ``test_every_aggregate_type_is_reachable_from_a_client``
fails when a new aggregate type appears that no link leads to, so a service that
adds one cannot silently fall out of ``baton trace``. ``scan_for`` is the
exhaustive alternative (every message of every stream, bytes pre-filtered).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from baton_shared.contracts import STREAMS
from baton_shared.eventstore.jetstream import AggregateReader
from baton_shared.eventstore.reader import RawEvent, read_stream
from baton_shared.journey_picture import JourneyEvent, journey_event
from baton_shared.observability.logging import get_logger
from baton_shared.projections.checkpoints import read_checkpoint
from baton_shared.projections.sql import make_engine
from nats.aio.client import Client as NATS
from sqlalchemy import make_url, select
from sqlalchemy.exc import SQLAlchemyError

from baton_ops.catalogue import UsageError, find_projection
from baton_ops.event_log import LoggedEvent, decode, raw_event, read_events, stream_info

log = get_logger("baton.ops.journey")


class Link(NamedTuple):
    service: str
    event_type: str  # the event that ties an aggregate to its client
    field: str  # its payload field holding the aggregate's id
    indexed_by: str | None = None  # a projection of the service whose ``table`` has ``client_id`` and ``field``


# aggregate type -> how a client leads to it
LINKS: dict[str, Link] = {
    "request": Link("intake", "NeedCaptured", "request_id", "requests"),
    "contact_group": Link("followup", "ContactGroupJoined", "group_id"),  # the group's slots: its other accounts' too
    "notice": Link("notify", "NoticeQueued", "notice_id", "notices"),  # who was told what about the client
}
CLIENT_AGGREGATE = "client"
# Aggregates about no client (a system's webhook subscription, a person's notice preferences):
# nothing of theirs to trace.
NOT_ABOUT_CLIENTS = frozenset({"webhook", "person"})
FILTERS_PER_READ = 200  # subject filters per ephemeral consumer
INDEX_WAIT_SECONDS = 10.0  # a projection's database that does not answer: read the log instead


async def linked_ids(nc: NATS, client_id: str) -> set[str]:
    """Ids of the aggregates link events tie to ``client_id`` (its requests, groups, notices)."""
    ids: set[str] = set()
    needle = client_id.encode()
    for link in LINKS.values():
        spec = STREAMS[link.service]
        if await stream_info(nc, spec.name) is None:
            continue
        start = 1
        indexed = await indexed_ids(link, client_id) if link.indexed_by else None
        if indexed is not None:
            found, position = indexed
            ids |= found
            start = position + 1  # the link events the projection has not applied yet
        async for batch in read_stream(
            nc, spec.name, start_seq=start, filter_subject=spec.type_filter(link.event_type)
        ):
            for raw in batch:
                if needle not in raw.data:
                    continue
                event = decode(link.service, spec.name, raw)
                value = ((event.envelope or {}).get("payload") or {}).get(link.field)
                if event.client_id == client_id and isinstance(value, str):
                    ids.add(value)
    return ids


async def indexed_ids(link: Link, client_id: str) -> tuple[set[str], int] | None:
    """The ids ``link.indexed_by`` holds for the client and the position it holds them up to;
    None when its database cannot be read (the caller reads the log instead)."""
    try:
        entry, projection = find_projection(f"{link.service}.{link.indexed_by}")
        url = make_url(entry.database_url)
        if url.get_backend_name() == "sqlite" and not Path(url.database or "").is_file():
            return None  # no such database here: nothing to ask, and nothing to create
        table = projection.table
        engine = make_engine(entry.database_url)
        try:
            async with asyncio.timeout(INDEX_WAIT_SECONDS), engine.connect() as conn:
                # The checkpoint first: rows read after it are at least as new, never older.
                position = await read_checkpoint(conn, f"{link.service}.{projection.name}")
                rows = await conn.execute(select(table.c[link.field]).where(table.c.client_id == client_id))
                return {value for (value,) in rows}, position
        finally:
            await engine.dispose()
    except (SQLAlchemyError, OSError, UsageError, TimeoutError) as exc:
        log.warning(
            "reading the whole log for links", projection=f"{link.service}.{link.indexed_by}", error=repr(exc)[:200]
        )
        return None


async def aggregate_events(
    nc: NATS, ids: Iterable[str], services: Iterable[str] | None = None, event_type: str | None = None
) -> list[LoggedEvent]:
    """Every event of the aggregates with these ids, in every (or the given) service's stream,
    each stream's in its order. Read as the event store reads a history (subject by subject,
    direct gets the server answers from its per-subject index): a consumer filtered on an
    aggregate's subjects costs the server a walk of the stream, so it grew with the log."""
    wanted = sorted(set(ids))
    out: list[LoggedEvent] = []
    reader = AggregateReader(nc)
    try:
        for service in services or STREAMS:
            spec = STREAMS[service]
            if await stream_info(nc, spec.name) is None:
                continue
            subjects = [f"{spec.subject_root}.*.{i}.{event_type or '*'}" for i in wanted]
            found = await asyncio.gather(*(reader.messages(spec.name, subject) for subject in subjects))
            behind = [subject for subject, msgs in zip(subjects, found, strict=True) if msgs is None]
            mine = [decode(service, spec.name, raw_event(m)) for msgs in found if msgs for m in msgs]
            for start in range(0, len(behind), FILTERS_PER_READ):  # a replica behind: through a consumer
                mine.extend(await read_events(nc, service, filter_subjects=behind[start : start + FILTERS_PER_READ]))
            out.extend(sorted(mine, key=lambda e: e.seq))
    finally:
        await reader.close()
    return out


async def client_events(
    nc: NATS, client_id: str, services: Iterable[str] | None = None, event_type: str | None = None
) -> tuple[list[LoggedEvent], set[str]]:
    """The client's footprint (events, in each stream's order) and the aggregate ids it spans."""
    ids = {client_id} | await linked_ids(nc, client_id)
    events = await aggregate_events(nc, ids, services, event_type)
    # The subjects are the client's aggregates; the payload must agree where it can be read.
    return [e for e in events if e.client_id in (None, client_id)], ids


async def client_raw_events(nc: NATS, client_id: str, spec) -> tuple[int, list[RawEvent], bool]:
    """The client's messages in one stream, in order, up to its head now: (head, messages,
    whether the client has events in any stream at all)."""
    ids = sorted({client_id} | await linked_ids(nc, client_id))
    info = await stream_info(nc, spec.name)
    head = int(info["state"]["last_seq"]) if info else 0
    raws: dict[int, RawEvent] = {}
    for start in range(0, len(ids) if info else 0, FILTERS_PER_READ):
        filters = [f"{spec.subject_root}.*.{i}.*" for i in ids[start : start + FILTERS_PER_READ]]
        async for batch in read_stream(nc, spec.name, end_seq=head, filter_subjects=filters):
            raws.update((raw.seq, raw) for raw in batch)
    known = bool(raws) or len(ids) > 1 or bool(await aggregate_events(nc, [client_id]))
    return head, [raws[seq] for seq in sorted(raws)], known


def _dedupe(events: Iterable[LoggedEvent]) -> list[LoggedEvent]:
    return list({(e.stream, e.seq): e for e in events}.values())


def in_journey(event: LoggedEvent, key: str) -> bool:
    env = event.envelope or {}
    return key in (event.client_id, env.get("correlation_id"), env.get("aggregate_id"), event.subject_aggregate_id)


async def journey_events(nc: NATS, key: str) -> list[LoggedEvent]:
    """A client's journey (``key`` a client id) or one journey (``key`` a correlation id).

    The key's own aggregates come first (a subject filter). The clients they belong
    to give the candidate set: their whole footprint, since every event of a journey
    is about its client. Of those, a client id keeps everything; a correlation id
    keeps the events it correlates, or that are on its aggregate. A key that is no
    aggregate's id finds nothing here: ``scan_for`` reads every message instead.
    """
    own = await aggregate_events(nc, [key])
    clients = {e.client_id for e in own if e.client_id}
    found = list(own)
    for client_id in sorted(clients):
        events, _ = await client_events(nc, client_id)
        found.extend(e for e in events if client_id == key or in_journey(e, key))
    return _dedupe(found)


async def scan_for(nc: NATS, key: str) -> list[LoggedEvent]:
    """Every event of every stream mentioning ``key`` as client, correlation or aggregate id."""
    needle = key.encode()
    found: list[LoggedEvent] = []
    for service, spec in STREAMS.items():
        if await stream_info(nc, spec.name) is None:
            continue
        async for batch in read_stream(nc, spec.name):
            for raw in batch:
                if needle in raw.data or needle in raw.subject.encode():
                    event = decode(service, spec.name, raw)
                    if in_journey(event, key):
                        found.append(event)
    return found


def picture_events(events: Iterable[LoggedEvent]) -> list[JourneyEvent]:
    """The journey picture's events from the log's; a message that does not decode is
    drawn too, marked ``unreadable``, on its service's lane at the time it was stored."""
    out = []
    for e in events:
        env = e.envelope or {}
        if e.error or not e.event_id or not isinstance(env.get("event_type"), str):
            out.append(
                JourneyEvent(
                    event_id=e.event_id if isinstance(e.event_id, str) else f"{e.stream}#{e.seq}",
                    event_type=env.get("event_type") if isinstance(env.get("event_type"), str) else "UNREADABLE",
                    service=e.service,
                    occurred_at=e.occurred_at,
                    label=(e.error or "")[:80],
                    marks=frozenset({"unreadable"}),
                )
            )
            continue
        out.append(journey_event({**env, "occurred_at": e.occurred_at}, service=e.service, where=f"{e.stream}#{e.seq}"))
    return out
