"""The aggregates of one service's stream: read one, create one, or run a command on one.

A command method reads as: the ids it creates (``new_id``), then ``update`` with the
domain call, or ``create`` with a new aggregate. ``update`` runs the command loop
(``baton_shared.application.loop``) with the aggregate cache and the command's
idempotency key:

- a write keyed by its caller first looks for its own events in the history it decides
  on (a load): found, it answers what they answered and appends nothing;
- the events appended get ids derived from the key (or from ``event_ids``), so a retry,
  or a replica racing, stores nothing twice;
- an append that goes unconfirmed carries the ids the write answers with (its 503).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

from baton_shared import idempotency, uuid_strings
from baton_shared.application.aggregate_cache import AggregateCache
from baton_shared.application.commands import Command
from baton_shared.application.loop import CommandLoop
from baton_shared.application.written import Clock, Written, answering, require_uuid, utc_now
from baton_shared.domain.aggregate import Aggregate
from baton_shared.domain.errors import NotFound
from baton_shared.eventstore.port import AggregateHistory, AppendResult, ConcurrencyConflict, EventStore, NewEvent

A = TypeVar("A", bound=Aggregate)
Ids = Mapping[str, str | list[str]]


def not_found(cls: type[Aggregate], aggregate_id: str) -> NotFound:
    """What a command on an aggregate that does not exist answers (404)."""
    return NotFound(cls.missing(aggregate_id))


class _OnAggregate:
    """One command on one aggregate, as the command loop runs it (see ``loop.Decision``)."""

    def __init__(
        self,
        aggregates: Aggregates,
        cls: type[A],
        aggregate_id: str,
        command: Command,
        decide: Callable[[A], Any],
        ids: dict,
        event_ids: Callable[[A, int], str] | None,
        keyed: idempotency.Keyed | None,
    ) -> None:
        self.aggregates, self.cls, self.aggregate_id, self.command = aggregates, cls, aggregate_id, command
        self.domain_call, self.ids, self.event_ids, self.keyed = decide, ids, event_ids, keyed
        self.answer: Written | None = None
        self.aggregate: Aggregate | None = None
        self.outcome: Any = None

    def decide(self, history: AggregateHistory) -> list[NewEvent]:
        cache = self.aggregates.cache
        aggregate = cache.fold(self.cls, self.aggregate_id, history)
        if not aggregate.exists:
            raise not_found(self.cls, self.aggregate_id)
        if self.keyed is not None and self.keyed.sent_by_caller:
            replay = self.keyed.replay(history.events)
            if replay is not None:
                cache.keep_unchanged(aggregate)
                self.answer = self.aggregates.written(self.ids, replay.last_seq, replay.count, replayed=replay.events)
                return []
        self.outcome = self.domain_call(aggregate)
        if not aggregate.pending:
            cache.keep_unchanged(aggregate)
            self.answer = self.aggregates.written(self.ids, aggregate.version, 0, outcome=self.outcome)
            return []
        self.aggregate = aggregate
        return self.aggregates.new_events(aggregate, self.command, self.keyed, self.event_ids)

    def appended(self, result: AppendResult) -> Written:
        assert self.aggregate is not None
        self.aggregates.cache.keep_appended(self.aggregate, result)
        return self.aggregates.written(self.ids, result.last_seq, len(result.event_ids), outcome=self.outcome)

    def unchanged(self) -> Written:
        assert self.answer is not None
        return self.answer


class Aggregates:
    """The repository of one stream's aggregates, with the aggregate cache in front of it."""

    def __init__(self, store: EventStore, attempts: int = 5, cache_size: int = 2048, clock: Clock = utc_now) -> None:
        self.store = store
        self.attempts = attempts
        self.clock = clock  # the service's: a command's events occurred at the time it was decided on
        self.cache = AggregateCache(cache_size)  # a command folds only what was appended since the last one
        self.command_loop: CommandLoop[Written] = CommandLoop(store, attempts)

    def keyed(self, command: Command) -> idempotency.Keyed | None:
        """The command's idempotency key bound to this service and the actor, if it has one."""
        return None if command.key is None else idempotency.bind(command.key, self.store.stream_name, command.actor)

    def new_id(self, command: Command, purpose: str) -> str:
        """The id of something the command creates: derived from its key (a retry names the same thing)."""
        keyed = self.keyed(command)
        return keyed.id(purpose) if keyed is not None else uuid_strings.random_uuid()

    def written(self, ids: Ids, position: int, appended: int, **answer: Any) -> Written:
        return Written(dict(ids), self.store.stream_name, position, appended, **answer)

    async def get(self, cls: type[A], aggregate_id: str, *, remembered: bool = False) -> A:
        """An existing aggregate, only to read (404 if there is none). ``remembered`` allows the
        store's remembered history, for what never changes once recorded (whose client a request is)."""
        require_uuid(aggregate_id, cls.aggregate_type)
        history = await (self.store.remembered_history if remembered else self.store.history)(
            cls.aggregate_type, aggregate_id
        )
        aggregate = self.cache.fold(cls, aggregate_id, history)
        if not aggregate.exists and history.remembered:
            self.cache.keep_unchanged(aggregate)
            aggregate = self.cache.fold(cls, aggregate_id, await self.store.history(cls.aggregate_type, aggregate_id))
        self.cache.keep_unchanged(aggregate)
        if not aggregate.exists:
            raise not_found(cls, aggregate_id)
        return aggregate

    async def update(
        self,
        cls: type[A],
        aggregate_id: str,
        command: Command,
        decide: Callable[[A], Any],
        *,
        ids: Ids | None = None,
        event_ids: Callable[[A, int], str] | None = None,
    ) -> Written:
        """Run ``decide`` (a domain call) on the existing aggregate and append what it recorded;
        decided again on a load or after a conflict (``loop.CommandLoop``). The answer names the
        aggregate (``<type>_id``) and ``ids``; its ``outcome`` is what ``decide`` returned.
        ``event_ids`` derives the events' ids (a scheduler's, to record a thing once); else the
        command's key does."""
        require_uuid(aggregate_id, cls.aggregate_type)
        every_id = {f"{cls.aggregate_type}_id": aggregate_id, **(ids or {})}
        keyed = None if event_ids is not None else self.keyed(command)
        decision = _OnAggregate(self, cls, aggregate_id, command, decide, every_id, event_ids, keyed)
        look_for_a_retry = keyed is not None and keyed.sent_by_caller
        with answering(every_id):
            return await self.command_loop.run(
                cls.aggregate_type, aggregate_id, decision, remembered_first=not look_for_a_retry
            )

    async def create(
        self,
        cls: type[A],
        aggregate_id: str,
        command: Command,
        build: Callable[[], A | Awaitable[A]],
        *,
        ids: Ids | None = None,
    ) -> Written:
        """Append the new aggregate ``build`` makes (with the id from ``new_id``). A keyed write
        already stored (a retry, or its own retry that won a race) answers what is stored, and
        builds nothing."""
        every_id = {f"{cls.aggregate_type}_id": aggregate_id, **(ids or {})}
        keyed = self.keyed(command)
        with answering(every_id):
            if keyed is not None and keyed.sent_by_caller:
                if (replayed := await self._replayed(cls, aggregate_id, keyed, every_id)) is not None:
                    return replayed
            aggregate = build()
            if inspect.isawaitable(aggregate):
                aggregate = await aggregate
            new = self.new_events(aggregate, command, keyed, None)
            try:
                result = await self.store.append(cls.aggregate_type, aggregate_id, aggregate.version, new)
            except ConcurrencyConflict:
                if keyed is None or (replayed := await self._replayed(cls, aggregate_id, keyed, every_id)) is None:
                    raise
                return replayed
        self.cache.keep_appended(aggregate, result)
        return self.written(every_id, result.last_seq, len(new))

    async def _replayed(self, cls: type[A], aggregate_id: str, keyed: idempotency.Keyed, ids: Ids) -> Written | None:
        """The answer of a keyed write already in the aggregate's history, or None."""
        replay = keyed.replay((await self.store.history(cls.aggregate_type, aggregate_id)).events)
        if replay is None:
            return None
        return self.written(ids, replay.last_seq, replay.count, replayed=replay.events)

    def new_events(
        self, aggregate: A, command: Command, keyed: idempotency.Keyed | None, event_ids: Callable[[A, int], str] | None
    ) -> list[NewEvent]:
        """The aggregate's pending events with their metadata: correlated with the aggregate (the
        client journey), caused by the command's cause, ids derived when they can be."""
        if event_ids is None and keyed is not None:
            event_ids = lambda _aggregate, n: keyed.event_id(n)  # noqa: E731
        return [
            NewEvent(
                event,
                correlation_id=aggregate.id,
                actor=command.actor,
                causation_id=command.causation_id,
                occurred_at=self.clock(),
                **({"event_id": event_ids(aggregate, n)} if event_ids is not None else {}),
            )
            for n, event in enumerate(aggregate.pending)
        ]
