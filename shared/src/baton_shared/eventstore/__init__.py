from baton_shared.eventstore.port import (
    AggregateHistory,
    AppendResult,
    AppendUnconfirmed,
    ConcurrencyConflict,
    EventStore,
    EventStoreUnavailable,
    LogBehind,
    NewEvent,
)

__all__ = [
    "AggregateHistory",
    "AppendResult",
    "AppendUnconfirmed",
    "ConcurrencyConflict",
    "EventStore",
    "EventStoreUnavailable",
    "LogBehind",
    "NewEvent",
]
