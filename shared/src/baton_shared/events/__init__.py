from baton_shared.events.envelope import DomainEvent, Envelope, RecordedEvent, new_event_id, derived_event_id
from baton_shared.events.registry import EventRegistry, UnknownSchemaVersion

__all__ = [
    "DomainEvent",
    "Envelope",
    "EventRegistry",
    "RecordedEvent",
    "UnknownSchemaVersion",
    "derived_event_id",
    "new_event_id",
]
