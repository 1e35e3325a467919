"""What every service's application layer answers a write with."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone

from baton_shared.domain.errors import NotFound


@dataclass(frozen=True)
class Written:
    """What a write created, and the stream position read-your-writes can wait for."""

    ids: dict[str, str | list[str]]
    stream: str
    position: int  # last sequence appended, or the aggregate's version if nothing changed
    appended: int


Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def require_uuid(value: str, what: str) -> None:
    """Ids are UUIDs: anything else cannot name a thing that exists (404, not a lookup)."""
    try:
        uuid.UUID(value)
    except ValueError:
        raise NotFound(f"{what} {value!r} not found: ids are UUIDs") from None
