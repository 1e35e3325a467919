"""What every service's application layer answers a write with."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Written:
    """What a write created, and the stream position read-your-writes can wait for."""

    ids: dict[str, str | list[str]]
    stream: str
    position: int  # last sequence appended, or the aggregate's version if nothing changed
    appended: int
