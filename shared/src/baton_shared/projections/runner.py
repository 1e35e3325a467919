"""The projection runner: folds one stream into one projection, exactly once in effect.

- Catch-up (at start-up, and for rebuilds) reads the stream with the fast
  sequential reader and applies it in batches, one transaction per batch.
- Live, a pull loop on the projection's durable consumer (reconciled against
  the checkpoint first) hands over what arrived, in stream order; the runner
  applies it the same way and then acknowledges the last message (the consumer
  acks all below it). If a delivery ever skips sequences, the gap is read from
  the stream before the batch is applied. Baton's streams deny deletes and purges, so a
  hole is a lost delivery or a read answered by a lagging replica, and nothing is applied
  over it; only sequences the stream's leader says it no longer holds (a stream that
  allows purges, as the bench's does) are passed.
- Every batch commits the rows and the checkpoint together; anything at or below
  the checkpoint is ignored, so redelivery never applies an event twice. The
  checkpoint moves by compare-and-set: two runners sharing a database never
  apply the same batch twice either.
- When the compare-and-set fails, the runner goes on from the stored checkpoint and
  reads from the log whatever lies between it and the batch in hand. The stored
  checkpoint can be *behind* what the runner applied: transactions commit with
  ``synchronous_commit = off``, so a PostgreSQL crash loses the last ones (rows and
  checkpoint together) while the service runs on. Carrying on from the position in
  memory would leave those events out for good.
- A batch that keeps failing for a reason that is not infrastructure is applied
  one event at a time and the poison event is parked (with its error) so the
  projection goes on; database or broker outages are retried, never parked.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.contracts.streams import StreamSpec
from baton_shared.events.envelope import RecordedEvent
from baton_shared.events.registry import EventRegistry, MalformedEvent, UnknownSchemaVersion
from baton_shared.eventstore.consumer import DurableWorker
from baton_shared.eventstore.provisioning import reconcile_durable
from baton_shared.eventstore.reader import NO_GAPS, LogGaps, RawEvent, ack_metadata, log_gaps, read_stream
from baton_shared.projections.base import Projection
from baton_shared.projections.hearing import HeardThrough, first_heard_after, nothing_heard_between
from baton_shared.projections.parts import Part
from baton_shared.projections.checkpoints import (
    CheckpointMoved,
    advance_checkpoint,
    advance_checkpoints,
    ensure_checkpoint,
    park,
    read_checkpoint,
)
from baton_shared.projections.checkpoints import (
    metadata as checkpoint_metadata,
)
from baton_shared.projections.write_transactions import KeptConnection, in_write_transaction
from baton_shared.observability import metrics
from baton_shared.retry import Outage, is_transient
from baton_shared.retry import retry_outages as retry
from baton_shared.observability.logging import get_logger

log = get_logger("baton.projection")

ProgressCallback = Callable[[int, int], None]  # (position, end)


# A projection's position is its checkpoint, stored with its rows: its consumer's
# acknowledgements only spare redeliveries, so they are sent a quarter second apart
# at most (see DeferredAckAll), not one per batch.
PROJECTION_ACK_DELAY_SECONDS = 0.25


class ProjectionRunner(DurableWorker):
    ack_delay_s = PROJECTION_ACK_DELAY_SECONDS

    def __init__(
        self,
        projection: Projection,
        engine: AsyncEngine,
        spec: StreamSpec,
        registry: EventRegistry,
        *,
        service: str,
        batch_size: int = 500,
        max_attempts: int = 5,
        part: Part | None = None,
    ) -> None:
        self.projection = projection
        self.part = part  # one part of a split rebuild: folds only its aggregates' events
        self.engine = engine
        self.spec = spec
        self.registry = registry
        # A copy built beside the live tables (suffix) keeps its own checkpoint and consumer.
        self.key = f"{service}.{projection.name}{projection.suffix}"
        if part is not None:
            self.key = part.key(self.key)
        self.stream_name = spec.name
        self.durable = f"{service}_{projection.name}{projection.suffix}"
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.position = 0
        # The checkpoint as stored. A batch the projection has nothing to do with moves
        # ``position`` only; the stored checkpoint catches up with the next batch that
        # writes, or a moment later (``flush_checkpoint``).
        self._stored = 0
        self._flush: asyncio.TimerHandle | None = None
        self._flushing: asyncio.Task | None = None
        self.head = 0
        self.live = False
        self.last_error: str | None = None
        self.gaps_filled = 0
        self.log_gaps_passed = 0
        self.went_back = 0  # times the stored checkpoint was found behind what this runner had stored
        self.hears: list[str] | None = None  # the subjects its feed is delivered; None: every event
        # A projection that names what it folds is given nothing else, live or read from the log.
        self._folds = None if projection.folds is None else frozenset(t.event_type for t in projection.folds)
        self._lock = asyncio.Lock()
        self._advanced = asyncio.Condition()
        self._waiting = 0  # callers in ``wait_for``: without any, an advance notifies no one
        self._projected = metrics.PROJECTED.labels(self.key)

    # --- set-up --------------------------------------------------------------

    async def setup(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(checkpoint_metadata.create_all)
            await conn.run_sync(self.projection.metadata.create_all)
            await ensure_checkpoint(conn, self.key, self.spec.name)
            self.position = self._stored = await read_checkpoint(conn, self.key)

    async def stored_checkpoint(self) -> int:
        async with self.engine.connect() as conn:
            return await read_checkpoint(conn, self.key)

    def reads_log_with(self, nc: NATS) -> None:
        """The connection to read the log with when the stored checkpoint is found gone back."""
        if self._nc is None:
            self._nc = nc

    async def _reload_stored(self) -> int:
        """The stored checkpoint, read again after a compare-and-set failed. Behind what this
        runner stored, the database lost commits (a crash with ``synchronous_commit = off``)
        or a swap put an older copy in place: what lies after it must be applied again."""
        believed = self._stored
        self._stored = await self.stored_checkpoint()
        if self._stored < believed:
            self.went_back += 1
            log.warning(
                "stored checkpoint is behind what was applied; applying again from it",
                projection=self.key,
                stored=self._stored,
                applied=believed,
            )
        return self._stored

    async def notice_went_back(self) -> bool:
        """Look at the stored checkpoint: found behind what this runner stored, apply the log
        again from it (True). The service's periodic tick calls this, so a projection that
        gets no event repairs a lost commit within seconds rather than at its next write."""
        if self._nc is None:
            return False  # not reading the log yet: its catch-up starts from the stored checkpoint anyway
        async with self._lock:
            believed = self._stored
            stored = await self._reload_stored()
            if stored >= believed:
                self.position = max(self.position, stored)  # a replica sharing the database moved it on
                return False
            self.position = stored
        await self.catch_up(self._nc)
        return True

    # --- applying ------------------------------------------------------------

    async def apply(self, raws: Sequence[RawEvent]) -> int:
        """Apply what is new in ``raws`` in one transaction; returns how many were new."""
        return (await apply_together([self], raws))[self.key]

    async def pass_unheard(self, seq: int) -> bool:
        """Whether this projection has reached ``seq``, counting the events its feed is not
        delivered: when none it would be lies between its position and ``seq``, it moves there."""
        if self.position >= seq:
            return True
        if self.hears is None or self._nc is None or self._lock.locked():
            return False  # a batch is being applied (a stalled database may hold it): asked again after
        async with self._lock:
            if self.position < seq:
                try:
                    if not await nothing_heard_between(self._nc, self.spec.name, self.hears, self.position, seq):
                        return False
                except Exception:  # noqa: BLE001 - the log not answering: not known yet
                    return False
                self.skip_to(seq)
        await self.notify_advanced()
        return True

    def skip_to(self, seq: int) -> None:
        """Events up to ``seq`` wrote nothing here: the checkpoint is stored a moment later."""
        self.position = seq
        self._flush_soon()

    def applied_to(self, seq: int, parked: Sequence[tuple[RawEvent, str]] = ()) -> None:
        """A transaction stored this projection's rows and checkpoint up to ``seq``."""
        self.position = self._stored = seq
        for raw, error in parked:
            log.error("event parked", projection=self.key, seq=raw.seq, subject=raw.subject, error=error)

    async def notify_advanced(self) -> None:
        if self._waiting:
            async with self._advanced:
                self._advanced.notify_all()

    async def apply_resilient(self, raws: Sequence[RawEvent]) -> None:
        """Apply with retries: outages are waited out (forever, with backoff); an
        event that keeps failing is parked and the rest of the batch goes on."""
        if await retry_batch(self, lambda: self.apply(raws), [self], self.max_attempts):
            return
        for raw in raws:
            try:
                await self.apply([raw])
            except Exception as exc:
                if is_transient(exc):
                    raise
                await self._park_alone(raw, f"{type(exc).__name__}: {exc}")

    async def _park_alone(self, raw: RawEvent, error: str) -> None:
        async with self._lock:
            if raw.seq <= self.position:
                return
            await in_write_transaction(self.engine, _park_and_pass, self, raw, error)
            self.position = self._stored = raw.seq
        log.error("event parked", projection=self.key, seq=raw.seq, subject=raw.subject, error=error)

    # --- catch-up ------------------------------------------------------------

    async def catch_up(
        self,
        nc: NATS,
        *,
        until: int | None = None,
        batch_size: int = 5000,
        progress: ProgressCallback | None = None,
    ) -> int:
        """Apply everything from the checkpoint to ``until`` (default: the head now).

        Batches are decoded and written one after the other (decoding the next one meanwhile
        was tried and was slower: PostgreSQL and nats-server want the other core)."""
        applied = 0
        self.reads_log_with(nc)
        async for batch in read_stream(
            nc, self.spec.name, start_seq=self.position + 1, end_seq=until, batch_size=batch_size
        ):
            await self.apply_resilient(batch)
            applied += len(batch)
            if progress is not None:
                progress(self.position, until or batch[-1].seq)
        await self.flush_checkpoint()
        return applied

    def _flush_soon(self, delay: float = 0.5) -> None:
        if self._flush is None:
            loop = asyncio.get_running_loop()
            self._flush = loop.call_later(delay, self._start_flush)

    def _start_flush(self) -> None:
        self._flush = None
        self._flushing = asyncio.ensure_future(self._flush_quietly())

    async def _flush_quietly(self) -> None:
        went_back = self.went_back
        try:
            await self.flush_checkpoint()
            if self.went_back > went_back and self._nc is not None:
                await self.catch_up(self._nc)  # not waiting for the next delivery to find the gap
        except Exception as exc:  # noqa: BLE001 - the next batch that writes stores it anyway
            log.warning("checkpoint not stored", projection=self.key, error=repr(exc)[:300])

    async def flush_checkpoint(self) -> None:
        """Store the position of batches that wrote nothing (see ``apply``)."""
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        async with self._lock:
            while self.position > self._stored:
                try:
                    await in_write_transaction(
                        self.engine, advance_checkpoint, self.key, self.spec.name, self._stored, self.position
                    )
                except CheckpointMoved:
                    believed = self._stored
                    stored = await self._reload_stored()
                    if stored < believed:
                        # Gone back: the events after it are applied again, from the log (the next
                        # delivery finds the gap; ``_flush_quietly`` reads it at once).
                        self.position = stored
                        break
                    # A replica sharing the database moved it on meanwhile. What lies between
                    # theirs and our position we saw, and it wrote nothing: ours stands.
                    self.position = max(self.position, stored)
                    continue
                self._stored = self.position

    # --- live ----------------------------------------------------------------

    async def prepare_live(self, nc: NATS, *, at_start: bool = True) -> None:
        await reconcile_durable(
            nc,
            self.spec.name,
            self.durable,
            filter_subjects=[self.spec.all_subjects],
            start_after=self._shared_position,
            description=f"projection {self.key}",
            at_start=at_start,
        )

    async def stop_live(self) -> None:
        await super().stop_live()
        try:
            await self.flush_checkpoint()
        except Exception as exc:  # noqa: BLE001 - stored by the next start's first write anyway
            log.warning("checkpoint not stored at stop", projection=self.key, error=repr(exc)[:300])

    async def _shared_position(self) -> int:
        """The stored checkpoint: replicas sharing the database move it too."""
        await self.flush_checkpoint()
        self.position = max(self.position, await self._reload_stored())
        return self.position

    async def _on_messages(self, msgs: list[Msg]) -> None:
        raws = []
        for msg in msgs:
            seq, ts = ack_metadata(msg.reply)
            raws.append(RawEvent(seq, msg.subject, msg.data, ts))
        await self.fill_gap_before(raws)
        await self.apply_resilient(raws)
        self.acknowledge(msgs)

    async def read_what_went_elsewhere(self, older_than_s: float = 2.0) -> bool:
        """Live on a filtered feed, and the first event still to fold here was stored over
        ``older_than_s`` ago: it went to a replica sharing the consumer with a database of its
        own, and no later delivery showed the hole (such a feed may be sent nothing more for a
        long while; an unfiltered one sees the hole at its next delivery). Read from the log
        (True)."""
        if self.hears is None or not self.live or self._nc is None or self.position >= self.head:
            return False
        first = await first_heard_after(self._nc, self.spec.name, self.hears, self.position)
        if first is None or first[0] > self.head or time.time() - first[1] < older_than_s:
            return False
        log.warning("an event to fold went elsewhere; reading it from the stream", projection=self.key, seq=first[0])
        self.gaps_filled += 1
        await self.catch_up(self._nc, until=first[0])
        return True

    async def fill_gap_before(
        self, raws: Sequence[RawEvent], nc: NATS | None = None, heard: LogGaps | HeardThrough = NO_GAPS
    ) -> None:
        """Read from the stream what a delivery skipped, so ``raws`` follows on (``heard``:
        what a filtered feed knows it was not sent)."""
        if not self._follows_on(raws, heard):
            # A rebuild swap or another replica may have moved the stored checkpoint.
            self.position = max(self.position, await self._reload_stored())
        if not self._follows_on(raws, heard):
            # A hole before or *inside* the batch: replicas sharing the consumer get
            # interleaved deliveries (36 and 38 here, 37 to the other replica).
            last = max(r.seq for r in raws)
            log.warning(
                "delivery skipped events; reading them from the stream",
                projection=self.key,
                after=self.position,
                up_to=last,
            )
            self.gaps_filled += 1
            await self.catch_up(nc or self._nc, until=last)

    def _follows_on(self, raws: Sequence[RawEvent], gaps: LogGaps | HeardThrough = NO_GAPS) -> bool:
        """What is new in ``raws`` is exactly the next sequences after the position, in order:
        nothing missing or repeated, except sequences the log itself no longer holds, or
        (``HeardThrough``) that a filtered feed was not sent."""
        expected = self.position + 1
        for seq in (r.seq for r in raws if r.seq > self.position):
            expected = gaps.next_held(expected)
            if seq != expected:
                return False
            expected += 1
        return True

    # --- read-your-writes and status ----------------------------------------

    async def wait_for(self, seq: int, timeout: float) -> bool:
        """Wait until this projection has applied stream position ``seq``."""
        if self.position >= seq:
            return True
        deadline = time.monotonic() + timeout
        self._waiting += 1
        try:
            while not await self.pass_unheard(seq):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                async with self._advanced:
                    if self.position >= seq:
                        break
                    try:
                        await asyncio.wait_for(self._advanced.wait(), min(remaining, 0.25))
                    except TimeoutError:
                        # Another replica sharing the database may have applied it.
                        if await self.stored_checkpoint() >= seq:
                            return True
        finally:
            self._waiting -= 1
        return self.position >= seq

    def status(self) -> dict:
        return {
            "projection": self.key,
            "stream": self.spec.name,
            "checkpoint": self.position,
            "head": self.head,
            "lag": max(0, self.head - self.position),
            "live": self.live,
            "gaps_filled": self.gaps_filled,
            "log_gaps_passed": self.log_gaps_passed,
            "went_back": self.went_back,
            "last_error": self.last_error,
            **({"delivered_only": self.hears} if self.hears is not None else {}),
        }


async def apply_together(
    runners: Sequence[ProjectionRunner],
    raws: Sequence[RawEvent],
    nc: NATS | None = None,
    kept: KeptConnection | None = None,
    heard: LogGaps | HeardThrough = NO_GAPS,
) -> dict[str, int]:
    """Apply ``raws`` to every runner it is new to (above its position), in one transaction
    that writes each projection the batch touches and moves each one's checkpoint
    (compare-and-set; if any moved meanwhile, those are re-read, what lies between a
    checkpoint and the batch is read from the log with ``nc`` and put before it, and the
    whole is filtered again).
    Each event is decoded once, whoever needs it; one that cannot be decoded is parked,
    in the same transaction, for each runner it was new to. Runners the batch does not
    touch move their position without a transaction (the checkpoint follows later).
    ``kept``: the connection to write with (a live feed's), else one from the pool.
    ``heard``: what a filtered feed knows it was not sent between its last batch and this one.
    Returns how many events were new to each runner, by key."""
    decoded: dict[int, RecordedEvent | str] = {}

    def decode(raw: RawEvent) -> RecordedEvent | str:
        if raw.seq not in decoded:
            try:
                decoded[raw.seq] = runners[0].registry.decode(raw_stream, raw.seq, raw.subject, raw.data)
            except (MalformedEvent, UnknownSchemaVersion) as exc:
                decoded[raw.seq] = str(exc)
        return decoded[raw.seq]

    raw_stream = runners[0].spec.name
    new_to: dict[str, int] = {}
    async with contextlib.AsyncExitStack() as held:
        for runner in runners:
            await held.enter_async_context(runner._lock)
        while True:
            if not all(runner._follows_on(raws, heard) for runner in runners):
                # A hole before or inside the batch (a checkpoint moved, deliveries split between
                # replicas): never applied over. The log fills it; a read of it that came back
                # short (a lagging replica) is tried again later, nothing applied meanwhile.
                by_seq = {raw.seq: raw for raw in (*raws, *await _read_through(runners, raws, nc or runners[0]._nc))}
                raws = [by_seq[seq] for seq in sorted(by_seq)]
                if not all(runner._follows_on(raws) for runner in runners):
                    # Only the leader tells a purged or deleted sequence from one a replica lacks.
                    gaps = await log_gaps(nc or runners[0]._nc, raw_stream)
                    if not all(runner._follows_on(raws, gaps) for runner in runners):
                        raise LogReadShort(f"{[r.key for r in runners]}: the log read up to {raws[-1].seq} left a hole")
                    _note_gaps(runners, raws, gaps)
            plans = []
            for runner in runners:
                fresh = [raw for raw in raws if raw.seq > runner.position]
                new_to[runner.key] = len(fresh)
                if not fresh:
                    continue
                held = fresh if runner.part is None else [raw for raw in fresh if runner.part.holds(raw.subject)]
                if runner._folds is not None:
                    held = [raw for raw in held if raw.subject.rpartition(".")[2] in runner._folds]
                pairs = [(raw, decode(raw)) for raw in held]
                events = [d for _, d in pairs if not isinstance(d, str)]
                parked = [(raw, d) for raw, d in pairs if isinstance(d, str)]
                if not parked and not runner.projection.touches(events):
                    # Nothing to write: no transaction (profiled: a commit per batch of
                    # other aggregates' events was most of a service's projection work).
                    runner.skip_to(fresh[-1].seq)
                    continue
                plans.append((runner, fresh[-1].seq, events, parked))
            if not plans:
                break
            try:
                await in_write_transaction(runners[0].engine, _write_batch, raw_stream, plans, kept=kept)
            except CheckpointMoved:
                for runner, *_ in plans:
                    runner.position = await runner._reload_stored()
                continue  # what lies between the stored checkpoint and the batch is read above
            for runner, last, _events, parked in plans:
                runner.applied_to(last, parked)
            break
    for runner in runners:
        runner._projected.inc(new_to[runner.key])
        await runner.notify_advanced()
    return new_to


def _write_batch(
    conn: Connection,
    stream: str,
    plans: Sequence[tuple[ProjectionRunner, int, list[RecordedEvent], list[tuple[RawEvent, str]]]],
) -> None:
    """Every write of one batch: each projection's rows and parked events, and their
    checkpoints, moved to each plan's last sequence."""
    for runner, _last, events, parked in plans:
        if events:
            runner.projection.apply(conn, events)
        if parked:
            park(conn, runner.key, stream, parked, tries=1)
    advance_checkpoints(conn, stream, [(r.key, r._stored, last) for r, last, _, _ in plans])


def _park_and_pass(conn: Connection, runner: ProjectionRunner, raw: RawEvent, error: str) -> None:
    """Park an event the runner kept failing on, and move its checkpoint past it."""
    park(conn, runner.key, runner.spec.name, [(raw, error)], tries=runner.max_attempts)
    advance_checkpoint(conn, runner.key, runner.spec.name, runner._stored, raw.seq)


def _note_gaps(runners: Sequence[ProjectionRunner], raws: Sequence[RawEvent], gaps: LogGaps) -> None:
    lowest, last = min(r.position for r in runners), raws[-1].seq
    log.warning(
        "the log no longer holds some sequences (purged or deleted); going on past them",
        projections=[r.key for r in runners],
        after=lowest,
        up_to=last,
        first_seq=gaps.first_seq,
        deleted=len([s for s in gaps.deleted if lowest < s <= last]),
    )
    for runner in runners:
        runner.log_gaps_passed += 1


class CheckpointBehindBatch(RuntimeError):
    """A checkpoint is behind the batch in hand and there is no connection to read the log with."""


class LogReadShort(Outage):
    """The log, read to fill a hole before or inside a batch, still left one: the replica that
    answered lags. Waited out like an outage."""


async def _read_through(
    runners: Sequence[ProjectionRunner], raws: Sequence[RawEvent], nc: NATS | None
) -> list[RawEvent]:
    """What the log holds from the lowest runner's position to the last event of ``raws``."""
    lowest, last = min(r.position for r in runners), max(r.seq for r in raws)
    if nc is None:
        raise CheckpointBehindBatch(f"{[r.key for r in runners]} at {lowest}, batch to {last}: no log to read")
    through: list[RawEvent] = []
    async for batch in read_stream(nc, runners[0].spec.name, start_seq=lowest + 1, end_seq=last):
        through.extend(batch)
    return through


async def retry_batch(
    worker: DurableWorker,
    attempt: Callable[[], Awaitable[object]],
    runners: Sequence[ProjectionRunner],
    max_attempts: int,
) -> bool:
    """``retry.retry_outages`` for a batch of ``runners``: each failure is recorded on them."""

    def failed(exc: BaseException, tries: int) -> None:
        error = f"{type(exc).__name__}: {exc}"[:500]
        for runner in runners:
            runner.last_error = error
            metrics.PROJECTION_FAILURES.labels(runner.key).inc()
        log.warning("projection batch failed", projections=[r.key for r in runners], attempt=tries, error=error)

    succeeded = await retry(attempt, max_attempts=max_attempts, on_failure=failed, between=worker.give_up_if_stopping)
    if succeeded:
        for runner in runners:
            runner.last_error = None
    return succeeded


async def first_behind(
    runners: Mapping[str, ProjectionRunner], names: Iterable[str], within: float
) -> ProjectionRunner | None:
    """The first of ``names`` whose runner does not apply, within ``within`` seconds each, what
    its stream held at the last ``refresh_heads``; None when every one has."""
    for name in names:
        runner = runners[name]
        if not await runner.wait_for(runner.head, within):
            return runner
    return None
