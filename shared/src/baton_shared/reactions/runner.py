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

Causes are handled one at a time in stream order. Outages (broker, database) are
retried with backoff for as long as they last; a cause whose reaction keeps
failing for another reason is parked with its error and the runner goes on.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from abc import ABC, abstractmethod
from typing import Any

import structlog
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.contracts.streams import StreamSpec
from baton_shared.events.envelope import DomainEvent, RecordedEvent, derived_event_id
from baton_shared.events.registry import EventRegistry, MalformedEvent, UnknownSchemaVersion
from baton_shared.eventstore.port import AggregateHistory, ConcurrencyConflict, EventStore, NewEvent
from baton_shared.eventstore.consumer import DurableWorker
from baton_shared.eventstore.provisioning import reconcile_durable
from baton_shared.eventstore.reader import RawEvent, ack_metadata
from baton_shared.projections.checkpoints import metadata as checkpoint_metadata, park
from baton_shared.projections.runner import is_transient
from baton_shared.service import metrics
from baton_shared.service.logging import get_logger

log = get_logger("baton.reaction")


class CauseNotReady(Exception):
    """The target is not ready for this cause yet: what must come first arrives through
    another consumer (follow-up hears of a client from intake and of its deliveries from
    delivery; under faults the second can overtake the first). The cause is tried again,
    with backoff, for ``NOT_READY_PATIENCE_SECONDS``, then parked with this message (for
    ``baton parked retry``) so one stuck client cannot hold up the others for ever."""


NOT_READY_PATIENCE_SECONDS = 600.0


class Reaction(ABC):
    """A policy: when ``source`` publishes one of ``event_types``, decide what to append."""

    name: str
    source: StreamSpec
    event_types: tuple[str, ...]

    @abstractmethod
    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        """(aggregate type, aggregate id) in our stream the cause acts on, or None to ignore it."""

    async def context(self, cause: RecordedEvent) -> Any:
        """What the decision needs beyond the target's history (read models, say); None by default.
        Gathered once per cause, before deciding, so ``decide`` stays pure."""
        return None

    @abstractmethod
    def decide(self, history: AggregateHistory, cause: RecordedEvent, context: Any = None) -> list[DomainEvent]:
        """The events to append, given the target's history (and the context). Pure domain logic."""


class ReactionRunner(DurableWorker):
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
    ) -> None:
        self.reaction = reaction
        self.store = store
        self.registry = registry
        self.engine = engine
        self.key = f"{service}.reaction.{reaction.name}"
        self.durable = f"{service}_react_{reaction.name}"
        self.stream_name = reaction.source.name
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.not_ready_patience = NOT_READY_PATIENCE_SECONDS
        self.live = False
        self.last_error: str | None = None
        self.handled = 0

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
            description=f"reaction {self.key}",
            # One cause out at a time across every replica sharing this consumer: causes are
            # handled in stream order (a cancellation never overtakes its handoff), and an
            # acknowledgement (ack-all) never covers a cause another replica still holds.
            max_ack_pending=1,
            at_start=at_start,
        )

    async def _on_messages(self, msgs: list[Msg]) -> None:
        """Causes one at a time, in order; each acknowledged once handled (or parked)."""
        for msg in msgs:
            seq, ts = ack_metadata(msg.reply)
            await self.handle_resilient(RawEvent(seq, msg.subject, msg.data, ts), still_working=msg.in_progress)
            await msg.ack()

    async def handle_resilient(self, raw: RawEvent, still_working: Callable[[], Awaitable[None]] | None = None) -> None:
        """Handle one cause, retrying outages (and a target not ready yet) with backoff; park
        what keeps failing. ``still_working`` tells the broker between tries that the cause is
        being handled, so it is not delivered again after ``ack_wait`` meanwhile."""
        attempt, started = 0, asyncio.get_running_loop().time()
        while True:
            try:
                cause = self.registry.decode(self.reaction.source.name, raw.seq, raw.subject, raw.data)
            except (MalformedEvent, UnknownSchemaVersion) as exc:
                await self._park(raw, str(exc), 1)
                return
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
                if isinstance(exc, CauseNotReady):
                    gave_up = asyncio.get_running_loop().time() - started > self.not_ready_patience
                else:
                    gave_up = not is_transient(exc) and attempt >= self.max_attempts
                if gave_up:
                    await self._park(raw, self.last_error, attempt)
                    metrics.REACTIONS.labels(self.key, "parked").inc()
                    return
                await asyncio.sleep(min(0.1 * 2**attempt, 5.0))
                self.give_up_if_stopping()
                if still_working is not None:
                    with contextlib.suppress(Exception):  # the connection may be down: retried anyway
                        await still_working()

    async def handle(self, cause: RecordedEvent) -> str:
        """React to one cause. Returns 'appended', 'duplicate' or 'ignored'."""
        if cause.event is None or cause.envelope.event_type not in self.reaction.event_types:
            return "ignored"
        target = self.reaction.target(cause)
        if target is None:
            return "ignored"
        aggregate_type, aggregate_id = target
        context = await self.reaction.context(cause)
        for _ in range(10):
            history = await self.store.load(aggregate_type, aggregate_id)
            decided = self.reaction.decide(history, cause, context)
            if not decided:
                return "ignored"
            new = [
                NewEvent(
                    event,
                    correlation_id=cause.envelope.correlation_id,
                    actor=f"reaction:{self.reaction.name}",
                    causation_id=cause.envelope.event_id,
                    event_id=derived_event_id(cause.envelope.event_id, f"{self.reaction.name}:{n}"),
                )
                for n, event in enumerate(decided)
            ]
            if new[0].event_id in history.event_ids:
                return "duplicate"
            try:
                await self.store.append(aggregate_type, aggregate_id, history.version, new)
                return "appended"
            except ConcurrencyConflict:
                continue
        raise RuntimeError(f"{self.key}: {aggregate_type} {aggregate_id} kept changing; giving up for now")

    async def _park(self, raw: RawEvent, error: str, tries: int) -> None:
        async with self.engine.begin() as conn:
            await park(conn, self.key, self.reaction.source.name, [(raw, error)], tries)
        log.error("cause parked", reaction=self.key, seq=raw.seq, subject=raw.subject, error=error)

    def status(self) -> dict:
        return {
            "reaction": self.key,
            "source": self.reaction.source.name,
            "handled": self.handled,
            "live": self.live,
            "last_error": self.last_error,
        }

