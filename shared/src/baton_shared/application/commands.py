"""What every command carries besides its own fields: who issued it, what caused it, its key."""

from __future__ import annotations

from dataclasses import dataclass

from baton_shared.idempotency import RequestKey


@dataclass(frozen=True, kw_only=True)
class Command:
    actor: str = "api"
    causation_id: str | None = None  # e.g. the HTTP request's correlation id
    # The write's idempotency key (the caller's, or one the server made for a keyless
    # write): the ids the command creates and the events it appends are derived from it.
    key: RequestKey | None = None
