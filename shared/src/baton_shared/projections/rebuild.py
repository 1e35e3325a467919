"""Rebuilding a projection without downtime, and point-in-time copies.

A rebuild folds the whole log into fresh tables beside the live ones
(``<table>__rebuild``, with their own checkpoint, so an interrupted rebuild can
be resumed or discarded and never touches the live tables), catches up with the
head, then swaps in one transaction:

1. lock the live tables (PostgreSQL: ``ACCESS EXCLUSIVE``; SQLite: the database
   write lock), then the live checkpoint row, in the order the live runner takes
   them, so neither can deadlock the other; the live runner waits a moment, reads
   wait on PostgreSQL for the same moment and go on unhindered on SQLite (WAL);
2. level the two: apply to whichever is behind what the other has applied, so
   both stand at the same position (the live runner, held by the lock, finds its
   checkpoint moved afterwards and carries on from there);
3. verify: row counts and a checksum of the keys must agree; differing row
   contents are reported (after a fix to a fold, that is the point);
4. drop the live tables, rename the copy's into their place (indexes too), move
   the live checkpoint to the copy's, forget the copy's checkpoint.

The live runner's next commit finds its checkpoint moved (compare-and-set),
reloads it and carries on, on the new tables.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from nats.aio.client import Client as NATS
from sqlalchemy import JSON, Table, delete, false, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from baton_shared.contracts.streams import StreamSpec
from baton_shared.events.registry import EventRegistry
from baton_shared.eventstore.reader import read_stream
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections.base import Projection, RowPerAggregate
from baton_shared.projections.checkpoints import checkpoints, parked_events, read_checkpoint
from baton_shared.projections.parts import forget_parts, parts_of, parts_under_way
from baton_shared.projections.runner import ProgressCallback, ProjectionRunner
from baton_shared.projections.split_rebuild import build_in_parts, splittable_log, stream_head

REBUILD_SUFFIX = "__rebuild"
VERIFY_SUFFIX = "__verify"  # a throwaway copy that is compared, never swapped
REBUILD_BATCH = 5000  # events per transaction (PostgreSQL)
# Fewer events than this are folded in one process whatever the parts asked for: starting one
# costs ~0.6 s of CPU, which a short rebuild does not win back (docs/architecture.md).
SPLIT_FROM_EVENTS = 100_000
REBUILD_BATCH_SQLITE = 100  # one writer: live commits wait less beside a rebuild (docs/architecture.md)


class RebuildRefused(Exception):
    """The copy does not agree with the live projection where it must; nothing was swapped."""


@dataclass
class Verification:
    tables: dict[str, dict] = field(default_factory=dict)

    @property
    def keys_agree(self) -> bool:
        return all(t["live_rows"] == t["copy_rows"] and t["live_keys"] == t["copy_keys"] for t in self.tables.values())

    @property
    def rows_agree(self) -> bool:
        """Same keys and every row the same, column for column."""
        return self.keys_agree and all(t["differing_rows"] == 0 for t in self.tables.values())

    def as_json(self) -> dict:
        return {"keys_agree": self.keys_agree, "rows_agree": self.rows_agree, "tables": self.tables}


def _digest(values) -> str:  # noqa: ANN001
    h = hashlib.sha256()
    for value in values:
        h.update(repr(value).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


async def _rows(conn: AsyncConnection, table: Table) -> list[tuple]:
    keys = list(table.primary_key.columns)
    return [tuple(r) for r in (await conn.execute(select(table).order_by(*keys))).all()]


def _row_as_jsonb(table: Table, alias: str) -> str:
    """A row in PostgreSQL with its JSON columns as jsonb, so that equality means what
    Python's dict equality means (key order ignored)."""
    parts = [f'{alias}."{c.name}"' + ("::jsonb" if isinstance(c.type, JSON) else "") for c in table.columns]
    return f"ROW({', '.join(parts)})"


async def _compare_in_postgres(conn: AsyncConnection, live_table: Table, copy_table: Table) -> dict:
    """What ``compare`` reports, computed by PostgreSQL: the rows never travel to Python.

    Reading both tables into Python took most of a rebuild's swap (9 s for 200,000
    timeline rows; bench/, phases timed). Here the digests are sums of md5s of the keys
    and of the rows' text (no sort), and rows are compared with a join on the key: as
    text first, and only rows whose text differs again with JSON as jsonb."""
    keys = [f'"{c.name}"' for c in live_table.primary_key.columns]
    order = ", ".join(keys)

    def hashed(expression: str) -> str:  # order-free: a sum of 60-bit md5 prefixes, no sort
        return f"coalesce(sum(('x' || left(md5({expression}), 15))::bit(60)::bigint::numeric), 0)"

    async def digest(table: Table) -> tuple[int, str, str]:
        row = (
            await conn.execute(
                text(
                    f"SELECT count(*), md5({hashed(f'ROW({order})::text')}::text), md5({hashed('t::text')}::text) "
                    f'FROM "{table.name}" t'
                )
            )
        ).one()
        return int(row[0]), row[1][:16], row[2][:16]

    live_rows, live_keys, live_sum = await digest(live_table)
    copy_rows, copy_keys, copy_sum = await digest(copy_table)
    differing = None
    if live_rows == copy_rows and live_keys == copy_keys:
        on = " AND ".join(f"l.{k} = c.{k}" for k in keys)
        differing = (
            0
            if live_sum == copy_sum
            else int(
                await conn.scalar(
                    text(
                        f'SELECT count(*) FROM "{live_table.name}" l JOIN "{copy_table.name}" c ON {on} '
                        f"WHERE CASE WHEN l::text = c::text THEN false "
                        f"ELSE {_row_as_jsonb(live_table, 'l')} IS DISTINCT FROM {_row_as_jsonb(copy_table, 'c')} END"
                    )
                )
            )
        )
    return {
        "live_rows": live_rows,
        "copy_rows": copy_rows,
        "live_keys": live_keys,
        "copy_keys": copy_keys,
        "live_checksum": live_sum,
        "copy_checksum": copy_sum,
        "differing_rows": differing,
        "key_columns": len(keys),
    }


async def compare(conn: AsyncConnection, live: Projection, copy: Projection) -> Verification:
    result = Verification()
    for live_table, copy_table in zip(live.metadata.sorted_tables, copy.metadata.sorted_tables, strict=True):
        if conn.dialect.name == "postgresql":
            result.tables[live_table.name] = await _compare_in_postgres(conn, live_table, copy_table)
            continue
        width = len(live_table.primary_key.columns)
        a, b = await _rows(conn, live_table), await _rows(conn, copy_table)
        key_index = [i for i, c in enumerate(live_table.columns) if c.primary_key]
        keys_a = [tuple(r[i] for i in key_index) for r in a]
        keys_b = [tuple(r[i] for i in key_index) for r in b]
        differing = sum(1 for x, y in zip(a, b, strict=False) if x != y) if keys_a == keys_b else None
        result.tables[live_table.name] = {
            "live_rows": len(a),
            "copy_rows": len(b),
            "live_keys": _digest(keys_a),
            "copy_keys": _digest(keys_b),
            "live_checksum": _digest(a),
            "copy_checksum": _digest(b),
            "differing_rows": differing,
            "key_columns": width,
        }
    return result


async def lock_projection(conn: AsyncConnection, projection: Projection, key: str, stream: str) -> None:
    """Hold off the live runner (and, on PostgreSQL, readers) until this transaction ends.

    PostgreSQL: ``ACCESS EXCLUSIVE`` on the projection's tables, then the checkpoint
    row, in the order the live runner takes them. A runner batch that read rows
    before the lock holds ``ACCESS SHARE`` until it commits, so the lock waits for
    it; one that starts after reads what this transaction wrote. Nothing is ever
    folded from rows read before this transaction changed them. SQLite: the first
    write takes the database's write lock; a runner that read before it cannot
    write afterwards (its snapshot is stale: SQLITE_BUSY) and retries its batch.
    """
    if conn.dialect.name == "postgresql":
        names = ", ".join(f'"{t.name}"' for t in projection.metadata.sorted_tables)
        await conn.execute(text(f"LOCK TABLE {names} IN ACCESS EXCLUSIVE MODE"))
        await conn.execute(select(checkpoints.c.last_seq).where(checkpoints.c.projection == key).with_for_update())
    else:  # SQLite: the first write takes the database's write lock until commit
        await conn.execute(update(checkpoints).where(checkpoints.c.projection == key).values(stream=stream))


def rebuild_batch(engine: AsyncEngine) -> int:
    """Events per transaction of a rebuild. SQLite has one writer: a rebuild beside live
    projections in the same file commits small batches, so their commits wait less."""
    return REBUILD_BATCH_SQLITE if engine.dialect.name == "sqlite" else REBUILD_BATCH


class ProjectionRebuild:
    def __init__(
        self,
        service: str,
        make: Callable[[str], Projection],
        engine: AsyncEngine,
        spec: StreamSpec,
        registry: EventRegistry,
        suffix: str = REBUILD_SUFFIX,
    ) -> None:
        self.service = service
        self.make = make
        self.live = make("")
        self.copy = make(suffix)
        self.engine = engine
        self.spec = spec
        self.registry = registry
        self.runner = ProjectionRunner(self.copy, engine, spec, registry, service=service)
        self.live_key = f"{service}.{self.live.name}"

    async def exists(self) -> int | None:
        """The copy's checkpoint if a copy is under way, else None."""
        async with self.engine.connect() as conn:
            value = await conn.scalar(select(checkpoints.c.last_seq).where(checkpoints.c.projection == self.runner.key))
        return None if value is None else int(value)

    async def discard(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(self.copy.metadata.drop_all)
            await conn.execute(delete(checkpoints).where(checkpoints.c.projection == self.runner.key))
            await conn.execute(delete(parked_events).where(parked_events.c.projection == self.runner.key))
            await forget_parts(conn, self.runner.key)

    def splits(self) -> bool:
        """Whether this copy can be folded in parts side by side (PostgreSQL: SQLite has one writer)."""
        return self.engine.dialect.name == "postgresql" and self.copy.splits_by_aggregate()

    async def build(
        self, nc: NATS, *, until: int | None = None, progress: ProgressCallback | None = None, parts: int = 1
    ) -> int:
        """Fold the log into the copy up to ``until`` (default: the head); resumable. With
        ``parts`` > 1, a copy that ``splits`` and at least ``SPLIT_FROM_EVENTS`` to fold, that
        many processes fold it side by side."""
        await self.runner.setup()
        async with self.engine.connect() as conn:
            split = await parts_under_way(conn, self.runner.key)  # an interrupted split goes on split
        if not split and parts > 1 and self.splits():
            until = until if until is not None else await stream_head(nc, self.spec.name)
            if until - self.runner.position >= SPLIT_FROM_EVENTS and await splittable_log(nc, self.spec.name):
                split = parts_of(parts)
        batch_size = rebuild_batch(self.engine)
        if split:
            read = await build_in_parts(self, nc, split, until, batch_size, progress)
            await self.runner.setup()  # the copy's checkpoint moved with the join
            return read
        return await self.runner.catch_up(nc, until=until, progress=progress, batch_size=batch_size)

    async def swap(self, nc: NATS, *, force: bool = False) -> Verification:
        """Bring the copy level with the live projection and swap it in, in one transaction."""
        await self.build(nc)  # close most of the distance outside the lock
        async with self.engine.begin() as conn:
            copy_at = await self._level(nc, conn)
            verification = await compare(conn, self.live, self.copy)
            if not verification.keys_agree and not force:
                raise RebuildRefused(
                    "the rebuilt tables hold other rows than the live ones "
                    f"({verification.as_json()['tables']}); nothing swapped (use force to swap anyway)"
                )
            await self._replace(conn)
            await conn.execute(
                update(checkpoints).where(checkpoints.c.projection == self.live_key).values(last_seq=copy_at)
            )
            await conn.execute(delete(checkpoints).where(checkpoints.c.projection == self.runner.key))
        return verification

    async def verify(
        self, nc: NATS, *, progress: ProgressCallback | None = None, parts: int = 1
    ) -> tuple[int, Verification]:
        """Does the live projection hold exactly what a clean rebuild would? A throwaway copy
        is folded from the whole log, levelled with the live tables under the lock and
        compared row by row; the copy is dropped afterwards. The live projection is at most
        caught up (as its runner would have). Returns the position compared at."""
        await self.runner.setup()
        await self.discard()  # the remains of an interrupted verification
        try:
            await self.build(nc, progress=progress, parts=parts)
            async with self.engine.begin() as conn:
                at = await self._level(nc, conn)
                verification = await compare(conn, self.live, self.copy)
        finally:
            await self.discard()
        return at, verification

    async def _level(self, nc: NATS, conn: AsyncConnection) -> int:
        """Lock, then bring the copy and the live tables to the same position (the live
        runner is held by the lock meanwhile); returns that position."""
        await self._lock(conn)
        live_at = await read_checkpoint(conn, self.live_key)
        copy_at = await read_checkpoint(conn, self.runner.key)
        level = max(live_at, copy_at)
        await self._apply_range(nc, conn, self.copy, copy_at, level)
        await self._apply_range(nc, conn, self.live, live_at, level)
        return level

    async def _apply_range(self, nc: NATS, conn: AsyncConnection, projection: Projection, after: int, to: int) -> None:
        if to <= after:
            return
        events = []
        async for batch in read_stream(nc, self.spec.name, start_seq=after + 1, end_seq=to):
            for r in batch:
                try:
                    events.append(self.registry.decode(self.spec.name, r.seq, r.subject, r.data))
                except Exception:  # noqa: BLE001 - unreadable: parked by the live projection
                    continue
        await conn.run_sync(projection.apply, events)

    async def _lock(self, conn: AsyncConnection) -> None:
        await lock_projection(conn, self.live, self.live_key, self.spec.name)

    async def _replace(self, conn: AsyncConnection) -> None:
        postgres = conn.dialect.name == "postgresql"
        for live_table, copy_table in zip(
            self.live.metadata.sorted_tables, self.copy.metadata.sorted_tables, strict=True
        ):
            await conn.execute(text(f'DROP TABLE "{live_table.name}"'))
            if postgres:
                # Renaming the copy's indexes is instant; building them again took seconds
                # on a 200,000-row table (bench/, the swap's phases timed).
                await conn.execute(text(f'ALTER TABLE "{copy_table.name}" RENAME TO "{live_table.name}"'))
                await conn.execute(text(f'ALTER INDEX "{copy_table.name}_pkey" RENAME TO "{live_table.name}_pkey"'))
                for copy_index, live_index in _paired_indexes(copy_table, live_table):
                    await conn.execute(text(f'ALTER INDEX "{copy_index}" RENAME TO "{live_index}"'))
                continue
            for index in copy_table.indexes:
                await conn.execute(text(f'DROP INDEX "{index.name}"'))
            await conn.execute(text(f'ALTER TABLE "{copy_table.name}" RENAME TO "{live_table.name}"'))
            for index in live_table.indexes:
                await conn.run_sync(lambda sync_conn, index=index: index.create(sync_conn))


def _paired_indexes(copy_table: Table, live_table: Table) -> list[tuple[str, str]]:
    """(copy's index, live's index) with the same columns, for every index of the live table."""
    live = {tuple(c.name for c in i.columns): i.name for i in live_table.indexes}
    copy = {tuple(c.name for c in i.columns): i.name for i in copy_table.indexes}
    if set(live) != set(copy):
        raise RebuildRefused(f"{copy_table.name} and {live_table.name} have different indexes")
    return [(copy[cols], live[cols]) for cols in live]


async def point_in_time(
    service: str,
    make: Callable[[str], Projection],
    engine: AsyncEngine,
    nc: NATS,
    spec: StreamSpec,
    registry: EventRegistry,
    until: int,
    progress: ProgressCallback | None = None,
) -> ProjectionRebuild:
    """A copy of the projection as it stood at stream position ``until``, beside the live
    tables (suffix ``__at_<until>``), for inspection; never swapped in."""
    copy = ProjectionRebuild(service, make, engine, spec, registry, suffix=f"__at_{until}")
    await copy.build(nc, until=until, progress=progress)
    return copy


CLIENT_SUFFIX = "__client"


class ClientRebuild:
    """Rebuild one client's rows of a projection, in one transaction, while the service serves.

    The client's events (read by the caller with subject filters, up to
    ``read_through``) are folded into scratch tables beside the live ones, under the
    swap's lock: the live checkpoint says which events the live rows reflect, so the
    client's events up to it (levelled inside the lock from the stream) are exactly
    what the scratch rows reflect too. Then the client's live rows are compared with
    the scratch rows (counts, key and content checksums) and, unless the keys differ
    and ``force`` is not given, replaced by them; the checkpoint does not move.

    Which rows are the client's: a table with a ``client_id`` column, the rows with
    that client id; otherwise (a row per aggregate keyed by something else, like
    intake's delivery progress keyed by request) the rows whose keys the client's
    events fold into. A projection whose rows of one client depend on other
    clients' events (a ranking, say) sets ``per_client = False`` and is refused.
    """

    def __init__(
        self,
        service: str,
        make: Callable[[str], Projection],
        engine: AsyncEngine,
        spec: StreamSpec,
        registry: EventRegistry,
        client_id: str,
    ) -> None:
        self.live = make("")
        self.copy = make(CLIENT_SUFFIX)
        self.engine = engine
        self.spec = spec
        self.registry = registry
        self.client_id = client_id
        self.live_key = f"{service}.{self.live.name}"
        if not getattr(self.live, "per_client", True):
            raise RebuildRefused(
                f"{self.live_key}: one client's rows depend on other clients' events; rebuild it whole"
            )
        for table in self.live.metadata.sorted_tables:
            if "client_id" not in table.c and not isinstance(self.live, RowPerAggregate):
                raise RebuildRefused(f"{self.live_key}: cannot tell which rows of {table.name} belong to a client")

    def _decode_mine(self, raws) -> list[RecordedEvent]:  # noqa: ANN001
        out = []
        for raw in raws:
            try:
                recorded = self.registry.decode(self.spec.name, raw.seq, raw.subject, raw.data)
            except Exception:  # noqa: BLE001 - unreadable: parked by the live projection, not in its rows
                continue
            if recorded.envelope.payload.get("client_id") == self.client_id:
                out.append(recorded)
        return out

    async def run(
        self, nc: NATS, client_events: list, read_through: int, *, force: bool = False
    ) -> tuple[int, int, Verification]:
        """Replace the client's rows; returns (events applied, live checkpoint, verification)."""
        async with self.engine.begin() as conn:
            await lock_projection(conn, self.live, self.live_key, self.spec.name)
            at = await read_checkpoint(conn, self.live_key)
            events = self._decode_mine(r for r in client_events if r.seq <= at)
            if at > read_through:  # written meanwhile: the client's events among them (new requests too)
                async for batch in read_stream(nc, self.spec.name, start_seq=read_through + 1, end_seq=at):
                    events.extend(self._decode_mine(batch))
            await conn.run_sync(
                self.copy.metadata.drop_all
            )  # a scratch copy is never kept; DDL rolls back with the rest
            await conn.run_sync(self.copy.metadata.create_all)
            await conn.run_sync(self.copy.apply, events)
            keys = self._keys(events)
            verification = Verification()
            replacements = []
            for live_table, copy_table in zip(
                self.live.metadata.sorted_tables, self.copy.metadata.sorted_tables, strict=True
            ):
                pk = list(live_table.primary_key.columns)
                mine = self._rows_of_client(live_table, keys)
                live_rows = [tuple(r) for r in (await conn.execute(select(live_table).where(mine).order_by(*pk))).all()]
                copy_result = await conn.execute(select(copy_table).order_by(*copy_table.primary_key.columns))
                copy_rows = [tuple(r) for r in copy_result.all()]
                if "client_id" in copy_table.c:
                    index = list(copy_table.c.keys()).index("client_id")
                    strangers = {r[index] for r in copy_rows} - {self.client_id}
                    if strangers:
                        raise RebuildRefused(
                            f"{live_table.name}: the client's events made rows of other clients ({sorted(strangers)[:3]})"
                        )
                verification.tables[live_table.name] = _agreement(live_table, live_rows, copy_rows)
                replacements.append((live_table, mine, copy_rows))
            if not verification.keys_agree and not force:
                raise RebuildRefused(
                    f"the rebuilt rows of client {self.client_id} have other keys than the live ones "
                    f"({verification.as_json()['tables']}); nothing replaced (use force to replace anyway)"
                )
            for live_table, mine, copy_rows in replacements:
                await conn.execute(delete(live_table).where(mine))
                if copy_rows:
                    names = list(live_table.c.keys())
                    await conn.execute(live_table.insert(), [dict(zip(names, r, strict=True)) for r in copy_rows])
            await conn.run_sync(self.copy.metadata.drop_all)
        return len(events), at, verification

    def _keys(self, events: list[RecordedEvent]) -> set:
        if not isinstance(self.live, RowPerAggregate):
            return set()
        return {self.live.key_of(e) for e in events if self.live.wanted(e)}

    def _rows_of_client(self, table: Table, keys: set):  # noqa: ANN202
        if "client_id" in table.c:
            return table.c.client_id == self.client_id
        key = table.c[self.live.key]
        return key.in_(sorted(k for k in keys if k is not None)) if keys else false()


def _agreement(table: Table, live_rows: list[tuple], copy_rows: list[tuple]) -> dict:
    key_index = [i for i, c in enumerate(table.columns) if c.primary_key]
    keys_a = [tuple(r[i] for i in key_index) for r in live_rows]
    keys_b = [tuple(r[i] for i in key_index) for r in copy_rows]
    return {
        "live_rows": len(live_rows),
        "copy_rows": len(copy_rows),
        "live_keys": _digest(keys_a),
        "copy_keys": _digest(keys_b),
        "live_checksum": _digest(live_rows),
        "copy_checksum": _digest(copy_rows),
        "differing_rows": sum(1 for x, y in zip(live_rows, copy_rows, strict=False) if x != y)
        if keys_a == keys_b
        else None,
        "key_columns": len(key_index),
    }
