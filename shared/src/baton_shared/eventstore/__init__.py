from baton_shared.eventstore.port import (
    AggregateHistory,
    AppendResult,
    ConcurrencyConflict,
    EventStore,
    EventStoreUnavailable,
    NewEvent,
)

__all__ = [
    "AggregateHistory",
    "AppendResult",
    "ConcurrencyConflict",
    "EventStore",
    "EventStoreUnavailable",
    "NewEvent",
]
