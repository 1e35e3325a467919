"""The command loop: decide on a history, append what was decided, decide again on a conflict.

One rule set for every writer (the services' commands and the reaction runner):

- The first decision is made on the history the store remembers (``EventStore.remembered_history``: no
  round trip), unless the caller asks for a load (a keyed retry looks for itself in it).
- Only an append may come of a remembered history: the append carries the version decided
  on and the server refuses it if the history was behind. Anything else decided on a
  remembered history (a refusal or any other exception, nothing to append) is decided
  again on a load.
- An append refused because another writer appended meanwhile (``ConcurrencyConflict``) is
  decided again on a load, up to ``attempts`` decisions; the last conflict is raised.
- Decided on a load, a refusal is raised as it is; the caller answers it (a 4xx for a
  command; the reaction runner retries it with backoff and parks what keeps failing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Generic, Protocol, TypeVar

from baton_shared.eventstore.port import AggregateHistory, AppendResult, ConcurrencyConflict, EventStore, NewEvent

T = TypeVar("T")
T_co = TypeVar("T_co", covariant=True)


class Decision(Protocol[T_co]):
    """One command's part in the loop: what it decides on a history, and what it answers."""

    def decide(self, history: AggregateHistory) -> Sequence[NewEvent]:
        """The events to append after ``history`` (none: nothing to append). May raise a refusal."""

    def appended(self, result: AppendResult) -> T_co:
        """The answer once the decided events are stored."""

    def unchanged(self) -> T_co:
        """The answer when nothing was to be appended (decided on a load)."""


class CommandLoop(Generic[T]):
    def __init__(self, store: EventStore, attempts: int = 5) -> None:
        self.store = store
        self.attempts = attempts

    async def run(
        self, aggregate_type: str, aggregate_id: str, decision: Decision[T], *, remembered_first: bool = True
    ) -> T:
        # with a single attempt there is none left to decide again in: loaded, then
        remembered = remembered_first and self.attempts > 1
        for attempt in range(self.attempts):
            if remembered and attempt == 0:
                history = await self.store.remembered_history(aggregate_type, aggregate_id)
            else:
                history = await self.store.history(aggregate_type, aggregate_id)
            try:
                events = decision.decide(history)
            except Exception:
                if history.remembered:
                    continue  # perhaps refused on a history that is behind: decided again on a load
                raise
            if not events:
                if history.remembered:
                    continue  # nothing to do, on a history perhaps behind: decided again on a load
                return decision.unchanged()
            try:
                result = await self.store.append(aggregate_type, aggregate_id, history.version, list(events))
            except ConcurrencyConflict:
                if attempt == self.attempts - 1:
                    raise
                continue
            return decision.appended(result)
        raise AssertionError("unreachable: every attempt answers, raises or goes on")
