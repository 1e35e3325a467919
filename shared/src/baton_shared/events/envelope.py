"""The envelope every Baton event travels in.

The envelope is the part every service understands whatever the event type: who
and what it is about, when, why (causation) and for which client journey
(correlation). The payload is a versioned pydantic model declared in
``baton_shared.contracts``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from baton_shared import uuid_strings

# Namespace for ids derived from a cause: uuid5(namespace, f"{cause}:{purpose}").
_DERIVED_NAMESPACE = uuid.UUID("6f1c2a4e-3b7d-5e8f-9a0b-1c2d3e4f5a6b")


def new_event_id() -> str:
    return uuid_strings.random_uuid()


def derived_event_id(cause_id: str, purpose: str) -> str:
    """A deterministic event id for a reaction: the same cause and purpose always
    give the same id, so a redelivered cause never produces a second reaction."""
    return uuid_strings.name_based(_DERIVED_NAMESPACE, f"{cause_id}:{purpose}")


class DomainEvent(BaseModel):
    """Base of every event payload. Subclasses set the class variables; their
    docstring is the event's description in the AsyncAPI document."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    service: ClassVar[str]  # whose stream it is published on
    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    aggregate_type: ClassVar[str]


class Envelope(BaseModel):
    """One stored event, as it is written to and read from the log."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    event_type: str
    schema_version: int = Field(ge=1)
    aggregate_type: str
    aggregate_id: str
    occurred_at: datetime
    correlation_id: str
    causation_id: str | None = None
    actor: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class RecordedEvent:
    """An envelope read back from a stream, with its position and typed payload.

    ``event`` is None when the type is unknown to this reader: projections that
    do not need it skip it, they never crash on it.
    """

    stream: str
    seq: int
    subject: str
    envelope: Envelope
    event: DomainEvent | None
