"""One cause's reaction, as the command loop runs it (see ``baton_shared.application.loop``)."""

from __future__ import annotations

from typing import Any

from baton_shared.domain.aggregate import Aggregate
from baton_shared.eventstore.port import AggregateHistory, AppendResult, NewEvent
from baton_shared.events.envelope import DomainEvent, RecordedEvent
from baton_shared.reactions.on_aggregate import AggregateReaction
from baton_shared.reactions.reaction import Reaction, decided_id


class OnCause:
    """Decides ``reaction`` on ``cause`` for the target ``aggregate_id``: 'appended', 'duplicate'
    or 'ignored'. An ``AggregateReaction``'s aggregate comes from its cache, and goes back to it
    after the append, or unchanged when nothing is decided; after a duplicate, a refusal or a
    conflict it is not kept (it holds a decision that was not stored)."""

    def __init__(self, reaction: Reaction, cause: RecordedEvent, context: Any, aggregate_id: str) -> None:
        self.reaction, self.cause, self.context, self.aggregate_id = reaction, cause, context, aggregate_id
        self.outcome = "ignored"
        self.held: Aggregate | None = None

    def decide(self, history: AggregateHistory) -> list[NewEvent]:
        self.held = None
        reaction = self.reaction
        if isinstance(reaction, AggregateReaction):
            aggregate = reaction.cache.fold(reaction.aggregate_class, self.aggregate_id, history)
            reaction.act(aggregate, self.cause, self.context)
            decided: list[DomainEvent] = aggregate.pending
            if not decided:
                reaction.cache.keep_unchanged(aggregate)
                self.outcome = "ignored"
                return []
            handled_before = reaction.cache.holds_event(aggregate, history, decided_id(reaction.name, self.cause))
            self.held = None if handled_before else aggregate
        else:
            decided = reaction.decide(history, self.cause, self.context)
            if not decided:
                self.outcome = "ignored"
                return []
            handled_before = decided_id(reaction.name, self.cause) in history.event_ids
        if handled_before:
            self.outcome = "duplicate"  # redelivered, or handled by another replica
            return []
        return [
            NewEvent(
                event,
                correlation_id=self.cause.envelope.correlation_id,
                actor=f"reaction:{reaction.name}",
                causation_id=self.cause.envelope.event_id,
                event_id=decided_id(reaction.name, self.cause, n),
            )
            for n, event in enumerate(decided)
        ]

    def appended(self, result: AppendResult) -> str:
        if self.held is not None and isinstance(self.reaction, AggregateReaction):
            self.reaction.cache.keep_appended(self.held, result)
        return "appended"

    def unchanged(self) -> str:
        return self.outcome
