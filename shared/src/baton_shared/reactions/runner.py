"""The reaction runner: cross-service policies, exactly once in effect.

A reaction consumes another service's events through its own durable consumer
and appends events to its own service's stream. It is idempotent by
construction, whatever the broker's duplicate window:

- the ids of the events it appends are derived from the cause's id
  (``derived_event_id``), so a redelivered cause yields the same ids;
- before appending, the runner loads the target aggregate; if its history
  already holds those ids the cause was handled and is only acknowledged;
- the append carries the version it decided on, so two replicas handling the
  same cause at once cannot both succeed: the loser reloads, sees the ids, stops.

Order: a request's causes are handled in the order intake recorded them (a
cancellation never overtakes its handoff). Replicas share the consumer, which
delivers to one of them at a time (a pinned-client priority group): the pinned
replica takes up to ``max_ack_pending`` causes and lines each up behind its target's
earlier ones: targets are handled concurrently, one target's causes in stream order,
each acknowledged once handled. A cause that waits (its target not ready yet, an
outage) holds up its own target only, and the pull loop never waits for handling, so
the holder keeps pulling and keeps the pin. While it lives it says "still working"
for every cause it holds. When a replica becomes the pinned one, another may still
hold causes delivered before (it stalled past the consumer's ``priority_timeout``, or
died and they come back after ``ack_wait``): the new one handles nothing until the
consumer's unacknowledged causes are all its own, then handles them in stream order.

Outages are retried with backoff: the database's for as long as they last, the log's
(an append it cannot confirm, a read that times out) like a target not ready, for
``NOT_READY_PATIENCE_SECONDS``. A cause whose reaction keeps failing for another
reason is parked with its error and the runner goes on.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import zlib

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.application.loop import CommandLoop
from baton_shared.events.envelope import RecordedEvent
from baton_shared.events.registry import EventRegistry, MalformedEvent, UnknownSchemaVersion
from baton_shared.eventstore.consumer import DurableWorker
from baton_shared.eventstore.port import EventStore, EventStoreUnavailable
from baton_shared.eventstore.provisioning import consumer_info, js_api, reconcile_durable
from baton_shared.eventstore.reader import RawEvent, ack_metadata
from baton_shared.projections.checkpoints import metadata as checkpoint_metadata
from baton_shared.projections.checkpoints import park
from baton_shared.reactions.on_cause import OnCause
from baton_shared.reactions.reaction import CauseNotReady, Reaction
from baton_shared.retry import backoff_seconds, is_transient
from baton_shared.observability import metrics
from baton_shared.observability.logging import get_logger

log = get_logger("baton.reaction")

NOT_READY_PATIENCE_SECONDS = 600.0
# A holder that dies (no clean stop) leaves its causes out: another replica is pinned after
# PRIORITY_TIMEOUT_SECONDS without a pull, and the dead one's causes come back after
# ACK_WAIT_SECONDS without word of them. A live holder pulls every third of the first and
# says "still working" for every cause it holds every third of the second, so neither
# lapses while it is well.
PRIORITY_TIMEOUT_SECONDS = 5.0
ACK_WAIT_SECONDS = 6.0


class ReactionRunner(DurableWorker):
    priority_group = "reactions"

    def __init__(
        self,
        reaction: Reaction,
        store: EventStore,
        registry: EventRegistry,
        engine: AsyncEngine,
        *,
        service: str,
        batch_size: int = 50,
        max_attempts: int = 5,
        max_ack_pending: int = 256,
        ack_wait_s: float = ACK_WAIT_SECONDS,
        priority_timeout_s: float = PRIORITY_TIMEOUT_SECONDS,
        partition: int = 0,
        partitions: int = 1,
    ) -> None:
        if not 0 <= partition < partitions:
            raise ValueError(f"partition {partition} of {partitions}")
        self.reaction = reaction
        self.store = store
        self.registry = registry
        self.engine = engine
        self.key = f"{service}.reaction.{reaction.name}"
        self.durable = durable_name(service, reaction.name, partition, partitions)
        self.service, self.partition, self.partitions = service, partition, partitions
        self.stream_name = reaction.source.name
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.not_ready_patience = NOT_READY_PATIENCE_SECONDS
        self.live = False
        self.last_error: str | None = None
        self.handled = 0
        self.max_ack_pending = max_ack_pending
        self.ack_wait_s = ack_wait_s
        self.priority_timeout_s = priority_timeout_s
        self.pull_expires_s = min(5.0, priority_timeout_s / 3)  # an idle holder pulls again well within it
        self._held: dict[int, tuple[Msg, RawEvent]] = {}  # delivered to us, not handled yet, by stream sequence
        self._unacked: dict[int, Msg] = {}  # held or being handled: kept from redelivery while we live
        self._lines: dict[object, collections.deque] = {}  # per target: its causes, to handle in stream order
        self._working: dict[object, asyncio.Task] = {}  # per target: the task handling its line
        self._still_working: asyncio.Task | None = None
        self._sole_holder_under: str | None = None  # the pin id under which no one else holds a cause
        self._in_order = asyncio.Lock()
        self._waiting: asyncio.Task | None = None
        # Decided on the remembered history first; on a conflict decided again, ten times, then
        # the cause is retried by handle_resilient (see baton_shared.application.loop).
        self.command_loop: CommandLoop[str] = CommandLoop(store, attempts=10)

    async def setup(self) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(checkpoint_metadata.create_all)

    async def prepare_live(self, nc: NATS, *, at_start: bool = True) -> None:
        await reconcile_durable(
            nc,
            self.reaction.source.name,
            self.durable,
            filter_subjects=[self.reaction.source.type_filter(t) for t in self.reaction.event_types],
            start_after=None,
            new_after=lambda: self._inherited_position(nc),
            description=f"reaction {self.key}",
            ack_policy="explicit",  # handled concurrently across targets: each cause acknowledged alone
            max_ack_pending=self.max_ack_pending,
            ack_wait_s=self.ack_wait_s,
            pinned_group=self.priority_group,
            priority_timeout_s=self.priority_timeout_s,
            at_start=at_start,
        )

    async def _inherited_position(self, nc: NATS) -> int | None:
        """Where a consumer made for a new partitioning starts: after what every consumer of the
        reaction's other partitionings has handled (the lowest ack floor), so a change of
        ``reaction_partitions`` does not handle the whole log again; None (the log's start) when
        there is no other."""
        stream = self.reaction.source.name
        base = durable_name(self.service, self.reaction.name)
        mine = {durable_name(self.service, self.reaction.name, k, self.partitions) for k in range(self.partitions)}
        try:
            names = (await js_api(nc, f"CONSUMER.NAMES.{stream}", {"offset": 0})).get("consumers") or []
        except Exception as exc:  # noqa: BLE001 - not allowed to list (an older permissions.conf)
            log.warning("consumers not listed; inheriting from the single one only", error=repr(exc)[:200])
            names = [base]
        floors = []
        for name in names:
            if (name == base or name.startswith(f"{base}_p")) and name not in mine:
                info = await consumer_info(nc, stream, name)
                if info is not None:
                    floors.append(int(info["ack_floor"]["stream_seq"]))
        return min(floors) if floors else None

    async def start_live(self, nc: NATS) -> None:
        await super().start_live(nc)
        self._still_working = asyncio.create_task(self._say_still_working(), name=f"{self.durable}-still-working")

    async def _say_still_working(self) -> None:
        """Every third of ``ack_wait``: "still working" for each cause held or being handled,
        so a well holder's causes never come back to the consumer, and a dead one's do soon."""
        while True:
            await asyncio.sleep(self.ack_wait_s / 3)
            for msg in list(self._unacked.values()):
                with contextlib.suppress(Exception):  # acknowledged meanwhile, or the connection is away
                    await msg.in_progress()

    async def _on_messages(self, msgs: list[Msg]) -> None:
        """Take what arrived and line it up; never waits for causes to be handled, so the pull
        loop goes on pulling (the pin stays ours however long a cause takes)."""
        for msg in msgs:
            seq, ts = ack_metadata(msg.reply)
            self._held[seq] = (msg, RawEvent(seq, msg.subject, msg.data, ts))
            self._unacked[seq] = msg
        await self._release()

    async def _release(self) -> None:
        """Line what is held up behind its target's earlier causes, in stream order, once no
        other replica can hold an earlier cause; until then keep holding."""
        async with self._in_order:
            pin = self._loop.pin_id if self._loop is not None else None
            # Copies delivered under an earlier pin are the current holder's to handle now.
            mine = {seq: held for seq, held in self._held.items() if (held[0].headers or {}).get("Nats-Pin-Id") == pin}
            for seq in self._held.keys() - mine.keys():  # left to come back to the holder
                self._unacked.pop(seq, None)
            self._held = mine
            if not mine or pin is None:
                return
            if pin != self._sole_holder_under:
                try:
                    sole = await self._holds_every_cause_out(len(mine))
                except Exception as exc:  # noqa: BLE001 - the broker cannot say now (a leader election)
                    # Raised, it left the held causes with no one to release them, kept from
                    # redelivery by "still working" for ever (a fault run stalled so): asked again.
                    log.warning("consumer state not given; asked again", reaction=self.key, error=repr(exc)[:300])
                    sole = False
                if not sole:
                    self._wait_for_the_others()
                    return
                self._sole_holder_under = pin
            for seq in sorted(mine):
                msg, raw = mine[seq]
                key, cause = self._order_key(raw)
                if partition_of(key, self.partitions) != self.partition:
                    self._unacked.pop(seq, None)
                    await self._pass_on(msg)  # another partition's consumer handles it
                    continue
                self._lines.setdefault(key, collections.deque()).append((msg, raw, cause))
                if key not in self._working:
                    self._working[key] = asyncio.create_task(self._work_through(key), name=f"{self.durable}-target")
            self._held = {}

    async def _holds_every_cause_out(self, holding: int) -> bool:
        """Whether every cause the consumer has out is one we hold (else another replica
        holds earlier ones, they are on their way to us, or we still handle earlier ones)."""
        info = await consumer_info(self._nc, self.stream_name, self.durable)
        return info is not None and int(info["num_ack_pending"]) <= holding

    def _wait_for_the_others(self) -> None:
        if self._waiting is not None and not self._waiting.done():
            return

        async def wait() -> None:
            while self._held and not self.stopping:
                await asyncio.sleep(0.2)  # a poll of the consumer's state, not a wait for a condition we own
                with contextlib.suppress(Exception):  # the broker may be away: asked again
                    await self._release()
                if (
                    self._sole_holder_under is not None
                    and self._loop is not None
                    and self._sole_holder_under == self._loop.pin_id
                ):
                    return

        self._waiting = asyncio.create_task(wait(), name=f"{self.durable}-wait-for-others")

    async def _work_through(self, key: object) -> None:
        """One target's causes in stream order, each acknowledged once handled; other targets'
        go on meanwhile (a cause waiting for its target holds up only that target)."""
        line = self._lines[key]
        try:
            while line:
                msg, raw, cause = line[0]
                await self.handle_resilient(raw, cause=cause)
                try:
                    await msg.ack()
                except Exception as exc:  # noqa: BLE001 - the connection is away a moment
                    # Handled all the same: the line goes on (the target's later causes keep their
                    # place behind it), and this cause comes back after ack_wait, where its derived
                    # ids show it handled. Dropping the line instead let a later cause of the target
                    # (a cancellation) be handled before the dropped ones (the handoff) came back.
                    log.warning(
                        "acknowledgement failed; the cause comes back and is recognised as handled",
                        reaction=self.key,
                        seq=raw.seq,
                        error=repr(exc)[:300],
                    )
                line.popleft()
                if self._unacked.get(raw.seq) is msg:  # not a later copy, still held
                    del self._unacked[raw.seq]
        finally:
            if self._working.get(key) is asyncio.current_task():
                del self._working[key]
                self._lines.pop(key, None)

    async def _pass_on(self, msg: Msg) -> None:
        try:
            await msg.ack()
        except Exception as exc:  # noqa: BLE001 - it comes back after ack_wait and is passed on again
            log.warning("acknowledgement failed", reaction=self.key, error=repr(exc)[:300])

    def _order_key(self, raw: RawEvent) -> tuple[object, RecordedEvent | None]:
        """The target a cause acts on (causes of one target keep their order), and the cause
        decoded (None if it cannot be: ``handle_resilient`` parks it, alone)."""
        try:
            cause = self.registry.decode(self.reaction.source.name, raw.seq, raw.subject, raw.data)
        except (MalformedEvent, UnknownSchemaVersion):
            return ("seq", raw.seq), None
        try:
            target = self.reaction.target(cause) if cause.event is not None else None
        except Exception:  # noqa: BLE001 - a reaction failing on it: handle_resilient reports and parks
            target = None
        return (target if target is not None else ("seq", raw.seq)), cause

    async def stop_live(self) -> None:
        await super().stop_live()
        tasks = [t for t in (self._waiting, self._still_working, *self._working.values()) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        pin = self._loop.pin_id if self._loop is not None else None
        self._held, self._unacked, self._lines, self._working, self._sole_holder_under = {}, {}, {}, {}, None
        await self._unpin(pin)  # a replica stopping for a deploy: handed over now, not after priority_timeout

    async def _unpin(self, pin: str | None) -> None:
        """Release the consumer's pin, if it is still ours."""
        if pin is None or self._nc is None or not self._nc.is_connected:
            return
        with contextlib.suppress(Exception):
            info = await consumer_info(self._nc, self.stream_name, self.durable)
            groups = (info or {}).get("priority_groups") or []
            if any(g.get("pinned_client_id") == pin for g in groups):
                await js_api(
                    self._nc, f"CONSUMER.UNPIN.{self.stream_name}.{self.durable}", {"group": self.priority_group}
                )

    async def release(self, drain_s: float | None = None) -> None:
        """Hand the consumer to another replica (partitions being balanced): stop pulling,
        release the pin, give back what arrived but is not lined up yet (the next holder
        handles it, before anything newer: see ``_release``), finish the lines already being
        handled (for at most ``drain_s``, default ``ack_wait``), then stop."""
        loop, nc = self._loop, self._nc
        if loop is None or nc is None:
            return
        await loop.pause()
        await self._unpin(loop.pin_id)
        with contextlib.suppress(Exception):
            await nc.flush()  # what the server sent before the pin went is here now
        given_back = [msg for msg, _ in self._held.values()] + loop.arrived()
        self._held = {}
        for msg in given_back:
            self._unacked.pop(ack_metadata(msg.reply)[0], None)
            with contextlib.suppress(Exception):
                await msg.nak()
        working = [t for t in self._working.values() if not t.done()]
        if working:
            await asyncio.wait(working, timeout=self.ack_wait_s if drain_s is None else drain_s)
        await self.stop_live()

    @property
    def holds_pin(self) -> bool:
        return self.live and self._loop is not None and self._loop.pin_id is not None

    async def handle_resilient(self, raw: RawEvent, cause: RecordedEvent | None = None) -> None:
        """Handle one cause, retrying outages (and a target not ready yet) with backoff; park
        what keeps failing. Meanwhile ``_say_still_working`` tells the broker the cause is still
        being handled. ``cause`` is ``raw`` decoded, when the caller has done that already."""
        if cause is None:
            try:
                cause = self.registry.decode(self.reaction.source.name, raw.seq, raw.subject, raw.data)
            except (MalformedEvent, UnknownSchemaVersion) as exc:
                await self._park(raw, str(exc), 1)
                return
        attempt, started = 0, asyncio.get_running_loop().time()
        while True:
            try:
                with structlog.contextvars.bound_contextvars(correlation_id=cause.envelope.correlation_id):
                    outcome = await self.handle(cause)
                metrics.REACTIONS.labels(self.key, outcome).inc()
                self.handled += 1
                self.last_error = None
                return
            except Exception as exc:  # noqa: BLE001 - classified below
                attempt += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:500]
                log.warning("reaction failed", reaction=self.key, seq=raw.seq, attempt=attempt, error=self.last_error)
                if isinstance(exc, (CauseNotReady, EventStoreUnavailable)):
                    # Waited out, not counted: the target not ready yet, or the log unable to
                    # confirm (a stream electing a leader refuses appends for seconds).
                    gave_up = asyncio.get_running_loop().time() - started > self.not_ready_patience
                else:
                    gave_up = not is_transient(exc) and attempt >= self.max_attempts
                if gave_up:
                    await self._park(raw, self.last_error, attempt)
                    metrics.REACTIONS.labels(self.key, "parked").inc()
                    return
                await asyncio.sleep(backoff_seconds(attempt))
                self.give_up_if_stopping()

    async def handle(self, cause: RecordedEvent) -> str:
        """React to one cause. Returns 'appended', 'duplicate' or 'ignored'."""
        if cause.event is None or cause.envelope.event_type not in self.reaction.event_types:
            return "ignored"
        target = self.reaction.target(cause)
        if target is None:
            return "ignored"
        aggregate_type, aggregate_id = target
        context = await self.reaction.context(cause)
        return await self.command_loop.run(
            aggregate_type, aggregate_id, OnCause(self.reaction, cause, context, aggregate_id)
        )

    async def _park(self, raw: RawEvent, error: str, tries: int) -> None:
        async with self.engine.begin() as conn:
            await conn.run_sync(park, self.key, self.reaction.source.name, [(raw, error)], tries)
        log.error("cause parked", reaction=self.key, seq=raw.seq, subject=raw.subject, error=error)

    def status(self) -> dict:
        return {
            "reaction": self.key,
            "source": self.reaction.source.name,
            "handled": self.handled,
            "live": self.live,
            "pinned": self._loop is not None and self._loop.pin_id is not None,
            **({"partition": f"{self.partition + 1} of {self.partitions}"} if self.partitions > 1 else {}),
            "last_error": self.last_error,
        }


def durable_name(service: str, reaction: str, partition: int = 0, partitions: int = 1) -> str:
    """The reaction's consumer; with partitions, one per partition (``…_p2of4``)."""
    base = f"{service}_react_{reaction}"
    return base if partitions == 1 else f"{base}_p{partition + 1}of{partitions}"


def partition_of(target: object, partitions: int) -> int:
    """Which partition handles a target's causes: the same on every replica and every run (a
    CRC of the target, not Python's salted ``hash``). Causes with no target of their own
    (``("seq", n)``: ignored, or undecodable and parked) go to the first."""
    if partitions == 1 or not isinstance(target, tuple) or target[0] == "seq":
        return 0
    return zlib.crc32("\x1f".join(map(str, target)).encode()) % partitions
