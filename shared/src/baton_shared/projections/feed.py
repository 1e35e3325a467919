"""One live feed per service and stream, for all the service's projections of that stream.

Each projection keeps its own runner: its tables, its checkpoint (compare-and-set),
catch-up, rebuild, parking, read-your-writes. What they share live is the
delivery: one durable consumer per (service, stream) instead of one per
projection, each event decoded once, and one transaction per batch that writes
every projection the batch touches and moves each one's checkpoint.

Why: with a consumer per projection, every event was delivered, decoded and
committed once per projection (five times in follow-up). Profiled under
handoffs, that repeated work was most of a service's projection CPU.

At start-up the feed catches up by reading the stream once, from the lowest
checkpoint, for all its projections. A projection behind the others (new, or
moved by a rebuild swap) gets only what is new to it: each event is applied to
the projections whose checkpoint is below it. A batch that keeps
failing for a reason that is not an outage is handed to each projection's own
runner, which applies it alone and parks the events it cannot fold; an outage
is waited out, never parked.

When every projection of a feed names the event types it folds, the feed's consumer is
filtered on them: an event none of them folds is not delivered at all (``hearing``).
"""

from __future__ import annotations

from collections.abc import Sequence

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from baton_shared.eventstore.consumer import DurableWorker
from baton_shared.eventstore.provisioning import JetStreamApiError, js_api, reconcile_durable
from baton_shared.eventstore.reader import NO_GAPS, LogGaps, RawEvent, ack_metadata, consumer_sequence, read_stream
from baton_shared.projections.hearing import HeardThrough, subjects_heard
from baton_shared.projections.write_transactions import KeptConnection
from baton_shared.projections.runner import (
    PROJECTION_ACK_DELAY_SECONDS,
    ProjectionRunner,
    apply_together,
    retry_batch,
)
from baton_shared.observability.logging import get_logger

log = get_logger("baton.projection")


class ProjectionFeed(DurableWorker):
    ack_delay_s = PROJECTION_ACK_DELAY_SECONDS

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
        self._kept: KeptConnection | None = None  # live, the connection batches are written with
        self.hears = subjects_heard(self.spec, [m.projection for m in self.members])
        for member in self.members:
            member.hears = self.hears
        self._heard: tuple[int, int] | None = None  # (consumer, stream) sequence of the last delivery applied

    @property
    def position(self) -> int:
        return min(m.position for m in self.members)

    # --- live ----------------------------------------------------------------

    async def catch_up(self, nc: NATS, *, batch_size: int = 5000) -> int:
        """Everything from the lowest checkpoint to the head, read and decoded once for all
        the projections (each applies only what is above its own checkpoint)."""
        applied = 0
        for member in self.members:
            member.reads_log_with(nc)
        async for batch in read_stream(nc, self.stream_name, start_seq=self.position + 1, batch_size=batch_size):
            await self.apply_resilient(batch)
            applied += len(batch)
        for member in self.members:
            await member.flush_checkpoint()
        return applied

    async def prepare_live(self, nc: NATS, *, at_start: bool = True) -> None:
        if at_start:
            await self._forget_own_consumers(nc)
        await reconcile_durable(
            nc,
            self.stream_name,
            self.durable,
            filter_subjects=self.hears or [self.spec.all_subjects],
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
            log.info(
                "per-projection consumer deleted; the feed delivers instead", consumer=member.durable, feed=self.durable
            )

    async def _shared_position(self) -> int:
        return min([await m._shared_position() for m in self.members])

    async def start_live(self, nc: NATS) -> None:
        self._kept = KeptConnection()
        self._heard = None
        await super().start_live(nc)
        for member in self.members:
            member.live, member.stopping = True, False
            member.reads_log_with(nc)

    async def stop_live(self) -> None:
        for member in self.members:
            member.stopping = True  # a runner retrying for the feed gives up too
        try:
            await super().stop_live()
            for member in self.members:
                await member.stop_live()  # stores the checkpoints of batches that wrote nothing
        finally:
            if self._kept is not None:
                await self._kept.close()

    async def _on_messages(self, msgs: list[Msg]) -> None:
        raws = []
        for msg in msgs:
            seq, ts = ack_metadata(msg.reply)
            raws.append(RawEvent(seq, msg.subject, msg.data, ts))
        heard = self._heard_through(msgs, raws)
        for member in self.members:
            await member.fill_gap_before(raws, self._nc, heard)
        await self.apply_resilient(raws, heard)
        if self.hears is not None:  # the newest of the batch (a redelivery may come last)
            self._heard = (max(consumer_sequence(m.reply) for m in msgs), max(r.seq for r in raws))
        self.acknowledge(msgs)

    def _heard_through(self, msgs: list[Msg], raws: list[RawEvent]) -> LogGaps | HeardThrough:
        """For a filtered feed whose consumer handed these out right after the last batch
        applied (its own count follows on): the stream sequences between were not for it.
        Otherwise (the first batch, a redelivery, a replica's share in between) nothing is
        assumed, and a hole is read from the log as for any feed."""
        if self.hears is None or self._heard is None:
            return NO_GAPS
        counted, since = self._heard
        if [consumer_sequence(m.reply) for m in msgs] != list(range(counted + 1, counted + 1 + len(msgs))):
            return NO_GAPS
        return HeardThrough(since, tuple(sorted(r.seq for r in raws)))

    # --- applying ------------------------------------------------------------

    async def apply(self, raws: Sequence[RawEvent], heard: LogGaps | HeardThrough = NO_GAPS) -> None:
        """Apply ``raws`` to every projection it is new to, in one transaction."""
        await apply_together(self.members, raws, self._nc, self._kept, heard)

    async def apply_resilient(self, raws: Sequence[RawEvent], heard: LogGaps | HeardThrough = NO_GAPS) -> None:
        if await retry_batch(self, lambda: self.apply(raws, heard), self.members, self.max_attempts):
            return
        # Not an outage: each projection on its own, parking what it cannot fold.
        for member in self.members:
            await member.apply_resilient(raws)
