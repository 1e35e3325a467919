"""The aggregate cache: each aggregate as it stood after the last command on it, in memory.

Folding an aggregate's whole history for every command made a command's cost grow with
the aggregate's age (docs/architecture.md). The cache holds the aggregate a command
wrote, as it stood after its append. The next command on it *takes* it (one owner at a
time: a concurrent command on the same aggregate misses and folds from scratch), applies
only the events after the one it was kept at, and decides. It is kept again only after a
successful append, or unchanged after a read; a command that failed or conflicted drops
it (its state may hold half a decision), so a miss is always the safe answer.

A cached aggregate is used only when the history still holds, at the kept version, the
event it was kept at (same sequence, same event id): a stream recreated or an aggregate
appended to past an unreadable message is folded from scratch.

A reaction asks whether the history already holds the event it would append (the cause
handled before): the ids of the events folded into a held aggregate are kept beside it
once asked for, and brought forward with it, so that question does not grow with the
aggregate's age either.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TypeVar

from baton_shared.domain.aggregate import Aggregate
from baton_shared.eventstore.port import AggregateHistory, AppendResult
from baton_shared.lru import LRUCache

A = TypeVar("A", bound=Aggregate)


@dataclass(slots=True)
class _Folded:
    """What was folded into a held aggregate: its last event's id, and every event id once asked for."""

    last_id: str | None
    event_ids: set[str] | None = None


class AggregateCache:
    def __init__(self, size: int = 2048) -> None:
        # per (class, id): the aggregate and what was folded into it
        self.entries: LRUCache[tuple[type, str], tuple[Aggregate, _Folded]] = LRUCache(size)
        # the same for an aggregate handed out (to keep it again)
        self._folded: weakref.WeakKeyDictionary[Aggregate, _Folded] = weakref.WeakKeyDictionary()
        self.hits = self.misses = 0

    def fold(self, cls: type[A], aggregate_id: str, history: AggregateHistory) -> A:
        """The aggregate as of ``history``: the cached one brought forward, or folded anew.
        The caller owns it until it hands it back with ``keep_appended``/``keep_unchanged``."""
        cached = self.entries.take((cls, aggregate_id))
        aggregate = self._brought_forward(cached, history) if cached is not None else None
        if aggregate is None:
            self.misses += 1
            aggregate = cls.from_history(aggregate_id, history)
            folded = _Folded(None)
        else:
            self.hits += 1
            folded = cached[1]
        events = history.events
        folded.last_id = events[-1].envelope.event_id if events and events[-1].seq == aggregate.version else None
        self._folded[aggregate] = folded
        return aggregate

    @staticmethod
    def _brought_forward(cached: tuple[Aggregate, _Folded], history: AggregateHistory) -> Aggregate | None:
        aggregate, folded = cached
        events = history.events
        i = len(events) - 1
        while i >= 0 and events[i].seq > aggregate.version:
            i -= 1
        if i < 0 or events[i].seq != aggregate.version or events[i].envelope.event_id != folded.last_id:
            return None
        for recorded in events[i + 1 :]:
            if recorded.event is not None:
                aggregate._apply(recorded.event)
            if folded.event_ids is not None:
                folded.event_ids.add(recorded.envelope.event_id)
        aggregate.version = history.version
        return aggregate

    def holds_event(self, aggregate: Aggregate, history: AggregateHistory, event_id: str) -> bool:
        """Whether ``history``, which ``aggregate`` was just folded from, holds ``event_id``."""
        folded = self._folded.get(aggregate)
        if folded is None:
            return event_id in history.event_ids
        if folded.event_ids is None:
            folded.event_ids = history.event_ids
        return event_id in folded.event_ids

    def keep_appended(self, aggregate: Aggregate, appended: AppendResult) -> None:
        """Keep ``aggregate`` after its pending events were appended as ``appended``."""
        folded = self._folded.get(aggregate) or _Folded(None)
        if folded.event_ids is not None:
            folded.event_ids.update(appended.event_ids)
        folded.last_id = appended.event_ids[-1]
        aggregate.pending = []
        aggregate.version = appended.last_seq
        self.entries.put((type(aggregate), aggregate.id), (aggregate, folded))

    def keep_unchanged(self, aggregate: Aggregate) -> None:
        """Hand back an aggregate that was only read (no pending events)."""
        folded = self._folded.get(aggregate)
        if folded is not None and folded.last_id is not None and not aggregate.pending:
            self.entries.put((type(aggregate), aggregate.id), (aggregate, folded))
