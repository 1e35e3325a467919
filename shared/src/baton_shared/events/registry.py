"""The registry: event type name -> payload class, plus upcasters.

Upcasters turn the payload of an older schema version into the next one, so a
stream written years ago still folds into today's models. They are pure
functions on dicts, chained until the current version is reached.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

import orjson
from pydantic import ValidationError

from baton_shared.events.envelope import DomainEvent, Envelope, RecordedEvent

E = TypeVar("E", bound=type[DomainEvent])
Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class UnknownSchemaVersion(Exception):
    """A stored event has a version no upcaster chain leads from."""


class MalformedEvent(Exception):
    """Bytes on the bus that are not a Baton envelope, or a payload that does not validate."""


class EventRegistry:
    def __init__(self) -> None:
        self._types: dict[str, type[DomainEvent]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: E) -> E:
        existing = self._types.get(cls.event_type)
        if existing is not None and existing is not cls:
            raise ValueError(f"event type {cls.event_type!r} registered twice")
        self._types[cls.event_type] = cls
        return cls

    def include(self, other: EventRegistry) -> None:
        """Know ``other``'s event types and upcasters too (one registry made of several)."""
        for cls in other.types():
            self.register(cls)
        for (event_type, from_version), step in other._upcasters.items():
            self.upcaster(event_type, from_version)(step)

    def forget_upcaster(self, event_type: str, from_version: int) -> None:
        """Undo ``upcaster`` (a test that played a newer reader)."""
        self._upcasters.pop((event_type, from_version), None)

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Declare how version ``from_version`` of ``event_type`` becomes ``from_version + 1``."""

        def decorate(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return decorate

    def types(self) -> Iterable[type[DomainEvent]]:
        return self._types.values()

    def get(self, event_type: str) -> type[DomainEvent] | None:
        return self._types.get(event_type)

    def upcast(self, event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        cls = self._types[event_type]
        while version < cls.schema_version:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise UnknownSchemaVersion(
                    f"{event_type} v{version}: no upcaster to v{version + 1} (current v{cls.schema_version})"
                )
            payload = step(payload)
            version += 1
        if version > cls.schema_version:
            raise UnknownSchemaVersion(f"{event_type} v{version} is newer than this reader's v{cls.schema_version}")
        return payload

    def payload_of(self, envelope: Envelope) -> DomainEvent | None:
        cls = self._types.get(envelope.event_type)
        if cls is None:
            return None
        payload = self.upcast(envelope.event_type, envelope.schema_version, envelope.payload)
        try:
            return cls.model_validate(payload)
        except ValidationError as exc:
            raise MalformedEvent(f"{envelope.event_type} {envelope.event_id}: {exc}") from exc

    def decode(self, stream: str, seq: int, subject: str, data: bytes) -> RecordedEvent:
        try:
            envelope = Envelope.model_validate_json(data)
        except ValidationError as exc:
            raise MalformedEvent(f"{stream}#{seq} on {subject}: not a Baton envelope: {exc}") from exc
        return RecordedEvent(stream, seq, subject, envelope, self.payload_of(envelope))

    @staticmethod
    def encode(envelope: Envelope) -> bytes:
        return orjson.dumps(envelope.model_dump(mode="json"))
