from baton_shared.eventstore.port import (
    AggregateHistory,
    AppendResult,
    AppendUnconfirmed,
    ConcurrencyConflict,
    EventStore,
    EventStoreUnavailable,
    NewEvent,
)

__all__ = [
    "AggregateHistory",
    "AppendResult",
    "AppendUnconfirmed",
    "ConcurrencyConflict",
    "EventStore",
    "EventStoreUnavailable",
    "NewEvent",
]
