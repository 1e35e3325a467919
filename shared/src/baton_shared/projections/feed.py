"""One live feed per service and stream, for all the service's projections of that stream.

Each projection keeps its own runner: its tables, its checkpoint (compare-and-set),
catch-up, rebuild, parking, read-your-writes. What they share live is the
delivery: one durable consumer per (service, stream) instead of one per
projection, each event decoded once, and one transaction per batch that writes
every projection the batch touches and moves each one's checkpoint.

Why: with a consumer per projection, every event was delivered, decoded and
committed once per projection (five times in follow-up). Profiled under
handoffs, that repeated work was most of a service's projection CPU.

A projection behind the others (caught up separately at start-up, or after a
rebuild swap moved its checkpoint) gets only what is new to it: each event is
applied to the projections whose checkpoint is below it. A batch that keeps
failing for a reason that is not an outage is handed to each projection's own
runner, which applies it alone and parks the events it cannot fold; an outage
is waited out, never parked.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from baton_shared.events.envelope import RecordedEvent
from baton_shared.events.registry import MalformedEvent, UnknownSchemaVersion
from baton_shared.eventstore.consumer import DurableWorker
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api, reconcile_durable
from baton_shared.eventstore.reader import RawEvent, ack_metadata
from baton_shared.projections.checkpoints import CheckpointMoved, advance_checkpoint, park
from baton_shared.projections.runner import ProjectionRunner, is_transient
from baton_shared.projections.sql import write_transaction
from baton_shared.service import metrics
from baton_shared.service.logging import get_logger

log = get_logger("baton.projection")


class ProjectionFeed(DurableWorker):
    def __init__(
        self, members: Sequence[ProjectionRunner], *, service: str, max_attempts: int = 5, linger_s: float = 0.0
    ) -> None:
        if not members:
            raise ValueError("a feed needs at least one projection")
        self.members = list(members)
        self.spec = members[0].spec
        if any(m.spec != self.spec or m.engine is not members[0].engine for m in self.members):
            raise ValueError("a feed's projections read one stream into one database")
        self.engine = members[0].engine
        self.registry = members[0].registry
        self.stream_name = self.spec.name
        self.key = f"{service}.{self.spec.subject_root}-projections"
        self.durable = f"{service}_projections_{self.spec.subject_root}"
        self.batch_size = max(m.batch_size for m in self.members)
        self.max_attempts = max_attempts
        self.linger_s = linger_s  # while busy, gather deliveries this long into one transaction
        self.last_error: str | None = None

    @property
    def position(self) -> int:
        return min(m.position for m in self.members)

    # --- live ----------------------------------------------------------------

    async def catch_up(self, nc: NATS) -> int:
        return sum([await m.catch_up(nc) for m in self.members])

    async def prepare_live(self, nc: NATS, *, at_start: bool = True) -> None:
        if at_start:
            await self._forget_own_consumers(nc)
        await reconcile_durable(
            nc,
            self.stream_name,
            self.durable,
            filter_subjects=[self.spec.all_subjects],
            start_after=self._shared_position,
            description=f"projections {', '.join(m.key for m in self.members)}",
            at_start=at_start,
        )

    async def _forget_own_consumers(self, nc: NATS) -> None:
        """Each projection had a consumer of its own before feeds (``<service>_<projection>``).
        Left on the server they would go on counting pending messages for no one."""
        for member in self.members:
            if member.durable == self.durable:
                continue
            try:
                await js_api(nc, f"CONSUMER.DELETE.{self.stream_name}.{member.durable}")
            except JetStreamApiError as exc:
                if exc.err_code != 10014:  # consumer not found: nothing to forget
                    raise
                continue
            log.info("per-projection consumer deleted; the feed delivers instead", consumer=member.durable, feed=self.durable)

    async def _shared_position(self) -> int:
        return min([await m._shared_position() for m in self.members])  # noqa: SLF001 - the feed drives its runners

    async def start_live(self, nc: NATS) -> None:
        await super().start_live(nc)
        for member in self.members:
            member.live, member.stopping = True, False

    async def stop_live(self) -> None:
        for member in self.members:
            member.stopping = True  # a runner retrying for the feed gives up too
        await super().stop_live()
        for member in self.members:
            await member.stop_live()  # stores the checkpoints of batches that wrote nothing

    async def _on_messages(self, msgs: list[Msg]) -> None:
        raws = []
        for msg in msgs:
            seq, ts = ack_metadata(msg.reply)
            raws.append(RawEvent(seq, msg.subject, msg.data, ts))
        for member in self.members:
            await member.fill_gap_before(raws, self._nc)
        await self.apply_resilient(raws)
        await msgs[-1].ack()

    # --- applying ------------------------------------------------------------

    def _decode(self, raws: Sequence[RawEvent]) -> list[RecordedEvent | str]:
        """Each event once: its decoded form, or why it cannot be read (it is parked)."""
        out: list[RecordedEvent | str] = []
        for raw in raws:
            try:
                out.append(self.registry.decode(self.spec.name, raw.seq, raw.subject, raw.data))
            except (MalformedEvent, UnknownSchemaVersion) as exc:
                out.append(str(exc))
        return out

    async def apply(self, raws: Sequence[RawEvent]) -> None:
        """Apply ``raws`` to every projection it is new to, in one transaction."""
        decoded = self._decode(raws)
        new_to = {m.key: sum(1 for r in raws if r.seq > m.position) for m in self.members}
        async with contextlib.AsyncExitStack() as held:
            for member in self.members:
                await held.enter_async_context(member._lock)  # noqa: SLF001
            while True:
                plans = []
                for member in self.members:
                    new = [(raw, d) for raw, d in zip(raws, decoded, strict=True) if raw.seq > member.position]
                    if not new:
                        continue
                    events = [d for _, d in new if not isinstance(d, str)]
                    parked = [(raw, d) for raw, d in new if isinstance(d, str)]
                    if not parked and not member.projection.touches(events):
                        member.skip_to(new[-1][0].seq)
                        continue
                    plans.append((member, new[-1][0].seq, events, parked))
                if not plans:
                    break
                try:
                    async with write_transaction(self.engine) as conn:
                        for member, last, events, parked in plans:
                            if events:
                                await member.projection.apply(conn, events)
                            if parked:
                                await park(conn, member.key, self.spec.name, parked, tries=1)
                            await advance_checkpoint(conn, member.key, self.spec.name, member._stored, last)  # noqa: SLF001
                except CheckpointMoved:
                    for member, *_ in plans:
                        member.position = await member._reload_stored()  # noqa: SLF001
                    continue
                for member, last, _events, parked in plans:
                    member.applied_to(last, parked)
                break
        for member in self.members:
            metrics.PROJECTED.labels(member.key).inc(new_to[member.key])
            await member.notify_advanced()

    async def apply_resilient(self, raws: Sequence[RawEvent]) -> None:
        attempt = 0
        while True:
            try:
                await self.apply(raws)
                if self.last_error is not None:
                    self.last_error = None
                    for member in self.members:
                        member.last_error = None
                return
            except Exception as exc:  # noqa: BLE001 - classified below
                attempt += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                for member in self.members:
                    member.last_error = self.last_error
                    metrics.PROJECTION_FAILURES.labels(member.key).inc()
                log.warning("projection batch failed", feed=self.key, attempt=attempt, error=self.last_error)
                if not is_transient(exc) and attempt >= self.max_attempts:
                    break
                await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
                self.give_up_if_stopping()
        # Not an outage: each projection on its own, parking what it cannot fold.
        for member in self.members:
            await member.apply_resilient(raws)
