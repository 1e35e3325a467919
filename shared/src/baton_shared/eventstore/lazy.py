"""An event store handle for the application layer, usable before the runtime connects."""

from __future__ import annotations

from baton_shared.eventstore.port import AggregateHistory, AppendResult, NewEvent


class LazyEventStore:
    """Forwards to the runtime's JetStream store, which exists once the runtime has
    connected; the application is built (in the composition root) before that."""

    def __init__(self, runtime) -> None:  # noqa: ANN001 - ServiceRuntime (import cycle)
        self._runtime = runtime
        self.stream_name = runtime.spec.name

    async def history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        return await self._runtime.store.history(aggregate_type, aggregate_id)

    async def remembered_history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        return await self._runtime.store.remembered_history(aggregate_type, aggregate_id)

    async def history_through(self, aggregate_type: str, aggregate_id: str, position: int) -> AggregateHistory:
        return await self._runtime.store.history_through(aggregate_type, aggregate_id, position)

    async def append(
        self, aggregate_type: str, aggregate_id: str, expected_version: int, events: list[NewEvent]
    ) -> AppendResult:
        return await self._runtime.store.append(aggregate_type, aggregate_id, expected_version, events)
