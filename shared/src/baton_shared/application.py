"""What every service's application layer answers a write with."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from baton_shared.domain.errors import DomainRuleViolation, NotFound
from baton_shared.eventstore.port import AggregateHistory, AppendUnconfirmed, EventStore


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


# What a command decided on a recalled history may answer only after deciding again on a
# load: a refusal (the history may be behind), or nothing to append (see EventStore.recall).
REFUSALS = (DomainRuleViolation, NotFound)


async def history_to_decide_on(
    store: EventStore, aggregate_type: str, aggregate_id: str, *, recall: bool
) -> AggregateHistory:
    """A command's history: with ``recall`` the one the store remembers (no round trip to the
    server; only an append may be decided on it, which the server checks), else a load."""
    return await (store.recall if recall else store.load)(aggregate_type, aggregate_id)


@contextmanager
def answering(ids: dict[str, str | list[str]]) -> Iterator[None]:
    """The ids a write answers with, given to an append that goes unconfirmed inside: its 503
    names them (with the key to retry with), so a caller can GET them to find out."""
    try:
        yield
    except AppendUnconfirmed as exc:
        exc.ids = dict(ids)
        raise
