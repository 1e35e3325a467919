"""What every service's application layer answers a write with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from baton_shared.domain.errors import NotFound
from baton_shared.events.envelope import RecordedEvent
from baton_shared.eventstore.port import AppendUnconfirmed


@dataclass(frozen=True)
class Written:
    """What a write created, and the stream position read-your-writes can wait for."""

    ids: dict[str, str | list[str]]
    stream: str
    position: int  # last sequence appended, or the aggregate's version if nothing changed
    appended: int
    # what the domain call returned (None for a replay), and a replay's stored events
    outcome: Any = field(default=None, compare=False, repr=False)
    replayed: tuple[RecordedEvent, ...] = field(default=(), compare=False, repr=False)


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def require_uuid(value: str, what: str) -> None:
    """Ids are UUIDs: anything else cannot name a thing that exists (404, not a lookup)."""
    try:
        uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value!r} not found: ids are UUIDs") from None


@contextmanager
def answering(ids: dict[str, str | list[str]]) -> Iterator[None]:
    """The ids a write answers with, given to an append that goes unconfirmed inside: its 503
    names them (with the key to retry with), so a caller can GET them to find out."""
    try:
        yield
    except AppendUnconfirmed as exc:
        exc.ids = dict(ids)
        raise
