"""What a projection is: named tables plus a fold of a batch of events into them."""

from __future__ import annotations

from abc import ABC, abstractmethod

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncConnection

from baton_shared.events.envelope import RecordedEvent


class Projection(ABC):
    """A read model folded from one stream.

    Subclasses declare their tables in ``define_tables`` on the metadata they are
    given, with names ending in ``suffix``: the live tables have no suffix, a
    rebuild builds into suffixed tables beside them and swaps. ``apply`` folds a
    batch of events (in stream order, already deduplicated against the
    checkpoint) inside the runner's transaction; it must not commit.
    """

    name: str

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix
        self.metadata = MetaData()
        self.define_tables(self.metadata, suffix)

    @abstractmethod
    def define_tables(self, metadata: MetaData, suffix: str) -> None: ...

    @abstractmethod
    async def apply(self, conn: AsyncConnection, events: list[RecordedEvent]) -> None: ...
