"""What the application layer needs from an event store, whatever backs it.

The JetStream store is the real one; ``memory.InMemoryEventStore`` is the fake
that domain and application tests use so they need no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Protocol

from baton_shared.events.envelope import DomainEvent, Envelope, RecordedEvent, new_event_id


class ConcurrencyConflict(Exception):
    """Someone else appended to the aggregate since we loaded it."""

    def __init__(self, aggregate: str, expected: int, detail: str = "") -> None:
        self.aggregate = aggregate
        self.expected = expected
        super().__init__(f"{aggregate} changed since version {expected}" + (f" ({detail})" if detail else ""))


class EventStoreUnavailable(Exception):
    """The log could not be read or written (broker down, a read timed out, an append
    refused): nothing was appended by this call, unless it is ``AppendUnconfirmed``."""


class LogBehind(EventStoreUnavailable):
    """The replica that answered a read held less of the aggregate than the stream's leader
    (or than this process had appended), however often it was asked: nothing may be decided
    on that history. Retrying the request is safe; the replica catches up."""


class AppendUnconfirmed(EventStoreUnavailable):
    """An append was sent but never confirmed (every attempt's acknowledgement lost or
    late): it may be stored or not. Retrying with the same event ids is safe (the store
    recognises them); an HTTP write answers 503 with the ids it would have created
    (``ids``, set by the application layer) and the key to retry with."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.ids: dict[str, str | list[str]] = {}


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended, with its metadata."""

    event: DomainEvent
    correlation_id: str
    actor: str
    causation_id: str | None = None
    event_id: str = field(default_factory=new_event_id)
    occurred_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def envelope(self, aggregate_id: str) -> Envelope:
        return Envelope(
            event_id=self.event_id,
            event_type=self.event.event_type,
            schema_version=self.event.schema_version,
            aggregate_type=self.event.aggregate_type,
            aggregate_id=aggregate_id,
            occurred_at=self.occurred_at,
            correlation_id=self.correlation_id,
            causation_id=self.causation_id,
            actor=self.actor,
            payload=self.event.model_dump(mode="json"),
        )


@dataclass(frozen=True, slots=True)
class AppendResult:
    stream: str
    first_seq: int
    last_seq: int
    event_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class AggregateHistory:
    events: list[RecordedEvent]
    # The sequence of the last message on the aggregate's subjects, readable or not
    # (a malformed message is skipped when rebuilding, but the concurrency check counts it).
    last_seq: int | None = None
    # Given from the store's memory without asking the server (``EventStore.remembered_history``):
    # it may be behind, so only an append (checked by the server) may be decided on it.
    remembered: bool = False

    @property
    def version(self) -> int:
        """The stream sequence of the aggregate's last message, 0 if it has none."""
        if self.last_seq is not None:
            return self.last_seq
        return self.events[-1].seq if self.events else 0

    @property
    def event_ids(self) -> set[str]:
        return {e.envelope.event_id for e in self.events}


class EventStore(Protocol):
    stream_name: str

    async def history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        """The aggregate's history as the server has it now (one round trip at least)."""
        ...

    async def remembered_history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        """The history as the store remembers it, without asking the server (``remembered``
        set), else ``history``. For a command that appends to the aggregate: the append carries
        the version decided on, so the server refuses it if the history was behind, and the
        command is decided again on ``history``. Any other outcome decided on a remembered
        history (a refusal, nothing to do, not found) must be decided again on ``history``
        (``baton_shared.application.loop``)."""
        ...

    async def history_through(self, aggregate_type: str, aggregate_id: str, position: int) -> AggregateHistory:
        """The aggregate's history at least as far as stream position ``position`` (a read
        showing a row at that version): it may hold later events, which the caller cuts."""
        ...

    async def append(
        self,
        aggregate_type: str,
        aggregate_id: str,
        expected_version: int,
        events: list[NewEvent],
    ) -> AppendResult: ...
