"""Aggregates rebuilt from their events.

A command method checks the rules against current state, then ``_record``s new
events; recording applies them at once, so a command that yields several events
sees each one's effect. ``pending`` holds what the command produced.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar, Self

from baton_shared.events.envelope import DomainEvent


class Aggregate:
    aggregate_type: ClassVar[str]

    def __init__(self, aggregate_id: str) -> None:
        self.id = aggregate_id
        self.version = 0  # stream sequence of the last stored event, 0 if none
        self.pending: list[DomainEvent] = []

    @property
    def exists(self) -> bool:
        return self.version > 0 or bool(self.pending)

    @classmethod
    def missing(cls, aggregate_id: str) -> str:
        """What a command on this aggregate answers when it does not exist (a 404's detail)."""
        return f"{cls.aggregate_type} {aggregate_id} not found"

    @classmethod
    def rebuild(cls, aggregate_id: str, history: Iterable[tuple[int, DomainEvent | None]]) -> Self:
        aggregate = cls(aggregate_id)
        for seq, event in history:
            if event is not None:
                aggregate._apply(event)
            aggregate.version = seq
        return aggregate

    @classmethod
    def from_history(cls, aggregate_id: str, history) -> Self:  # noqa: ANN001 - an AggregateHistory
        """Rebuilt from a loaded history; its version is the history's (which counts
        messages on the aggregate's subjects that could not be read)."""
        aggregate = cls.rebuild(aggregate_id, ((e.seq, e.event) for e in history.events))
        aggregate.version = history.version
        return aggregate

    def _record(self, event: DomainEvent) -> None:
        self._apply(event)
        self.pending.append(event)

    def _apply(self, event: DomainEvent) -> None:
        handler = getattr(self, f"_on_{event.event_type}", None)
        if handler is not None:
            handler(event)
