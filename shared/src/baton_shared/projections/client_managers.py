"""Who looks after each client now, and the client's name, projected from intake's stream: what
a service that tells or escalates to a client's account manager needs of intake."""

from __future__ import annotations

from typing import ClassVar

from sqlalchemy import BigInteger, Column, Index, MetaData, String, Table

from baton_shared.contracts import intake as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections.base import RowPerAggregate


class ClientManagers(RowPerAggregate):
    """Subclasses name the projection (``name``) and its table (``table_name``)."""

    source = "intake"
    aggregate_type = "client"
    key = "client_id"
    created_by = ev.ClientRegistered
    folds = (ev.ClientRegistered, ev.AccountManagerAssigned)
    table_name: ClassVar[str]

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = Table(
            f"{self.table_name}{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("name", String(200), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_{self.table_name}{suffix}_manager", "account_manager"),
        )

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, self.folds)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        if isinstance(e, ev.ClientRegistered):
            return {
                "client_id": e.client_id,
                "name": e.name,
                "account_manager": e.account_manager,
                "version": recorded.seq,
            }
        if row is None:
            return None
        return dict(row, account_manager=e.account_manager, version=recorded.seq)
