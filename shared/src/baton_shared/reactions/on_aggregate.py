"""A reaction that decides on one of its service's aggregates, held folded between causes.

Folding the target's whole history for every cause made a reaction's cost grow with the
target's age (a client of many years, a delivery event each). An ``AggregateReaction``
names the aggregate's class and ``act``s on the aggregate; the runner folds it through an
``AggregateCache``, as commands do, and keeps it after the append (or unchanged when the
cause calls for nothing), so the next cause on it folds only what came since.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Generic, TypeVar

from baton_shared.application.aggregate_cache import AggregateCache
from baton_shared.domain.aggregate import Aggregate
from baton_shared.events.envelope import DomainEvent, RecordedEvent
from baton_shared.eventstore.port import AggregateHistory
from baton_shared.reactions.reaction import Reaction

A = TypeVar("A", bound=Aggregate)


class AggregateReaction(Reaction, Generic[A]):
    """A policy decided on an aggregate of ``aggregate_class`` (the target's id is ``target``'s)."""

    aggregate_class: type[A]

    def __init__(self, cache: AggregateCache | None = None) -> None:
        # Shared by the reactions on one class, a cause folds what the others appended, no more.
        self.cache = cache if cache is not None else AggregateCache()

    @abstractmethod
    def act(self, aggregate: A, cause: RecordedEvent, context: Any = None) -> None:
        """Call on ``aggregate`` what the cause calls for; its pending events are what is appended.
        May raise (a refusal, ``CauseNotReady``). Pure domain logic."""

    def decide(self, history: AggregateHistory, cause: RecordedEvent, context: Any = None) -> list[DomainEvent]:
        """``act`` on the aggregate folded from ``history`` alone (no cache)."""
        target = self.target(cause)
        assert target is not None, "a cause with no target is not decided"
        aggregate = self.aggregate_class.from_history(target[1], history)
        self.act(aggregate, cause, context)
        return aggregate.pending
