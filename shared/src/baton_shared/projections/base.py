"""What a projection is: named tables plus a fold of a batch of events into them."""

from __future__ import annotations

from abc import ABC, abstractmethod

from typing import Any, ClassVar

from sqlalchemy import Connection, MetaData, Table

from baton_shared.events.envelope import DomainEvent, RecordedEvent
from baton_shared.projections.sql import existing_keys, load_rows, upsert


class Projection(ABC):
    """A read model folded from one stream.

    Subclasses declare their tables in ``define_tables`` on the metadata they are
    given, with names ending in ``suffix``: the live tables have no suffix, a
    rebuild builds into suffixed tables beside them and swaps. ``apply`` folds a
    batch of events (in stream order, already deduplicated against the
    checkpoint) inside the runner's transaction; it must not commit. It is
    synchronous: the runner calls it, with every other write of the batch, in one
    ``AsyncConnection.run_sync`` (one greenlet per batch, not one per statement).
    """

    name: str
    # The service whose stream this projection reads; None: the owning service's own.
    source: ClassVar[str | None] = None
    # The only event types ``apply`` can change a row for; None: any. When every projection
    # of a feed names them, the feed is delivered those alone (``hearing``).
    folds: ClassVar[tuple[type[DomainEvent], ...] | None] = None

    def __init__(self, suffix: str = "") -> None:
        self.suffix = suffix
        self.metadata = MetaData()
        self.define_tables(self.metadata, suffix)

    @abstractmethod
    def define_tables(self, metadata: MetaData, suffix: str) -> None: ...

    @abstractmethod
    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None: ...

    def touches(self, events: list[RecordedEvent]) -> bool:
        """Whether ``apply`` could change a row for these events. When not, the runner
        skips the transaction and stores the checkpoint later. Default: always."""
        return True

    def splits_by_aggregate(self) -> bool:
        """Whether a rebuild may fold disjoint sets of aggregates side by side (see ``parts``)."""
        return False


class RowPerAggregate(Projection):
    """One row per aggregate (or per ``key_of`` an event), folded from its events.

    Per batch: the rows the batch touches are loaded in one query (except those
    it creates), every event is folded into its row in memory, and the changed
    rows are written back with one upsert. Subclasses set ``aggregate_type``,
    ``key`` (the key column), ``created_by`` (the event that creates a row, once
    per key; None when no event does, and every touched row is loaded),
    ``table`` in ``define_tables``, and implement ``fold``.
    """

    aggregate_type: ClassVar[str]
    key: ClassVar[str]
    created_by: ClassVar[type[DomainEvent] | None] = None
    table: Table

    def key_of(self, recorded: RecordedEvent) -> Any:
        """The row an event belongs to (default: its aggregate's id)."""
        return recorded.envelope.aggregate_id

    def wanted(self, recorded: RecordedEvent) -> bool:
        return recorded.envelope.aggregate_type == self.aggregate_type and recorded.event is not None

    @abstractmethod
    def fold(self, row: dict[str, Any] | None, recorded: RecordedEvent) -> dict[str, Any] | None:
        """The row after ``recorded`` (None: the event leaves no row to write)."""

    def touches(self, events: list[RecordedEvent]) -> bool:
        return any(self.wanted(e) for e in events)

    def splits_by_aggregate(self) -> bool:
        # Each row is one aggregate's and folds only its events: not so with another key or fold.
        cls = type(self)
        return cls.key_of is RowPerAggregate.key_of and cls.apply is RowPerAggregate.apply

    def apply(self, conn: Connection, events: list[RecordedEvent]) -> None:
        mine = [e for e in events if self.wanted(e)]
        if not mine:
            return
        rows = load_rows(conn, self.table, self.key, existing_keys(mine, self.created_by, self.key_of))
        changed: dict[Any, dict[str, Any]] = {}
        for recorded in mine:
            row = self.fold(rows.get(self.key_of(recorded)), recorded)
            if row is not None:
                rows[row[self.key]] = changed[row[self.key]] = row
        upsert(conn, self.table, list(changed.values()), [self.key])
