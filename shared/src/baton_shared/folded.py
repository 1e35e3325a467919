"""Aggregates kept folded between commands: an in-memory snapshot per aggregate.

Every command loads its aggregate's history and folds it. The event store already
reads only what was appended since its last load (``JetStreamEventStore.load``), but
folding the whole history again made a command's cost grow with the aggregate's
age: a client relationship with a few hundred satisfaction records and reviews
spent more time re-applying them than deciding (a tenth of follow-up's CPU under
``bench/profile_writes.py followup``).

``FoldedAggregates`` holds the aggregate a command wrote, as it stood after its
append. The next command on it *takes* it (one owner at a time: a concurrent command
on the same aggregate misses and folds from scratch), applies only the events after
the one it was kept at, and decides. It is kept again only after a successful append,
or unchanged after a read; a command that failed or conflicted drops it (its state
may hold half a decision), so a miss is always the safe answer.

A held aggregate is used only when the history still holds, at the kept version, the
event the aggregate was kept at (same sequence, same event id): a stream recreated or
an aggregate appended to past an unreadable message is folded from scratch.
"""

from __future__ import annotations

import weakref
from collections import OrderedDict
from typing import TypeVar

from baton_shared.domain.aggregate import Aggregate
from baton_shared.eventstore.port import AggregateHistory, AppendResult

A = TypeVar("A", bound=Aggregate)


class FoldedAggregates:
    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._held: OrderedDict[tuple[type, str], tuple[Aggregate, str]] = OrderedDict()
        # the id of the last event folded into an aggregate handed out (to keep it unchanged)
        self._last_ids: weakref.WeakKeyDictionary[Aggregate, str] = weakref.WeakKeyDictionary()
        self.hits = self.misses = 0

    def fold(self, cls: type[A], aggregate_id: str, history: AggregateHistory) -> A:
        """The aggregate as of ``history``: the held one brought forward, or folded anew.
        The caller owns it until it hands it back with ``kept_after``/``keep_unchanged``."""
        held = self._held.pop((cls, aggregate_id), None)
        aggregate = self._forward(held, history) if held is not None else None
        if aggregate is None:
            self.misses += 1
            aggregate = cls.from_history(aggregate_id, history)
        else:
            self.hits += 1
        events = history.events
        if events and events[-1].seq == aggregate.version:
            self._last_ids[aggregate] = events[-1].envelope.event_id
        return aggregate

    @staticmethod
    def _forward(held: tuple[Aggregate, str], history: AggregateHistory) -> Aggregate | None:
        aggregate, last_id = held
        events = history.events
        i = len(events) - 1
        while i >= 0 and events[i].seq > aggregate.version:
            i -= 1
        if i < 0 or events[i].seq != aggregate.version or events[i].envelope.event_id != last_id:
            return None
        for recorded in events[i + 1:]:
            if recorded.event is not None:
                aggregate._apply(recorded.event)
        aggregate.version = history.version
        return aggregate

    def kept_after(self, aggregate: Aggregate, appended: AppendResult) -> None:
        """Hold ``aggregate`` after its pending events were appended as ``appended``."""
        aggregate.pending = []
        aggregate.version = appended.last_seq
        self._hold(aggregate, appended.event_ids[-1])

    def keep_unchanged(self, aggregate: Aggregate) -> None:
        """Hand back an aggregate that was only read (no pending events)."""
        last_id = self._last_ids.get(aggregate)
        if last_id is not None and not aggregate.pending:
            self._hold(aggregate, last_id)

    def _hold(self, aggregate: Aggregate, last_id: str) -> None:
        if self.size <= 0:
            return
        key = (type(aggregate), aggregate.id)
        self._held[key] = (aggregate, last_id)
        self._held.move_to_end(key)
        while len(self._held) > self.size:
            self._held.popitem(last=False)
