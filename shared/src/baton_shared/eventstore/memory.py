"""An in-memory event store with the same rules as the JetStream one.

For domain and application tests only: it proves the rules, never delivery.
"""

from __future__ import annotations

import asyncio

from baton_shared.contracts.streams import StreamSpec
from baton_shared.events.envelope import RecordedEvent
from baton_shared.events.registry import EventRegistry
from baton_shared.eventstore.port import AggregateHistory, AppendResult, ConcurrencyConflict, NewEvent


class InMemoryEventStore:
    def __init__(self, spec: StreamSpec, registry: EventRegistry) -> None:
        self.spec = spec
        self.stream_name = spec.name
        self.registry = registry
        self.log: list[RecordedEvent] = []
        self._lock = asyncio.Lock()

    def _history(self, aggregate_type: str, aggregate_id: str) -> list[RecordedEvent]:
        prefix = self.spec.aggregate_filter(aggregate_type, aggregate_id)[:-1]
        return [e for e in self.log if e.subject.startswith(prefix)]

    async def history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        return AggregateHistory(self._history(aggregate_type, aggregate_id))

    async def remembered_history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        return await self.history(aggregate_type, aggregate_id)  # never behind: nothing to remember

    async def history_through(self, aggregate_type: str, aggregate_id: str, position: int) -> AggregateHistory:
        return await self.history(aggregate_type, aggregate_id)

    async def append(
        self, aggregate_type: str, aggregate_id: str, expected_version: int, events: list[NewEvent]
    ) -> AppendResult:
        if not events:
            raise ValueError("nothing to append")
        async with self._lock:
            history = AggregateHistory(self._history(aggregate_type, aggregate_id))
            ids = tuple(e.event_id for e in events)
            if history.events and history.events[-1].envelope.event_id == ids[-1]:
                # A retried append whose first attempt was stored: success, stored once.
                seqs = [e.seq for e in history.events if e.envelope.event_id in ids]
                return AppendResult(self.stream_name, seqs[0], seqs[-1], ids)
            if history.version != expected_version:
                raise ConcurrencyConflict(
                    f"{aggregate_type} {aggregate_id}", expected_version, f"now at {history.version}"
                )
            first = len(self.log) + 1
            for new in events:
                envelope = new.envelope(aggregate_id)
                subject = self.spec.subject(aggregate_type, aggregate_id, envelope.event_type)
                self.log.append(RecordedEvent(self.stream_name, len(self.log) + 1, subject, envelope, new.event))
            return AppendResult(self.stream_name, first, len(self.log), ids)
