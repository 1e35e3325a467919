"""What a reaction is: a policy from another service's events to our own, and its ids.

The runner (``baton_shared.reactions.runner``) delivers the causes and appends what a
reaction decides; the ids of what it appends are derived from the cause (``decided_id``),
so a cause handled twice is recognised and stored once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from baton_shared.contracts.streams import StreamSpec
from baton_shared.events.envelope import DomainEvent, RecordedEvent, derived_event_id
from baton_shared.eventstore.port import AggregateHistory


class CauseNotReady(Exception):
    """The target is not ready for this cause yet: what must come first arrives through
    another consumer (follow-up hears of a client from intake and of its deliveries from
    delivery; under faults the second can overtake the first). The cause is tried again,
    with backoff, for ``NOT_READY_PATIENCE_SECONDS``, then parked with this message (for
    ``baton parked retry``) so one stuck client cannot hold up the others for ever."""


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


def decided_id(reaction: str, cause: RecordedEvent, n: int = 0) -> str:
    """The id of the ``n``-th event a reaction decides on a cause: derived, so a cause handled
    twice (redelivered, or by two replicas) is recognised and stored once."""
    return derived_event_id(cause.envelope.event_id, f"{reaction}:{n}")
