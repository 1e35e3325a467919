"""Handover briefs read model: one row per brief, as prepared at the handover."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, JSON, MetaData, String, Table

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class BriefsProjection(RowPerAggregate):
    name = "briefs"
    aggregate_type = "client"
    key = "brief_id"
    created_by = ev.HandoverBriefPrepared

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.briefs = Table(
            f"briefs{suffix}",
            metadata,
            Column("brief_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("previous_account_manager", String(200)),
            Column("brief", JSON, nullable=False),
            Column("prepared_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_briefs{suffix}_client", "client_id", "prepared_at"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        return getattr(recorded.event, "brief_id", None)

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, ev.HandoverBriefPrepared)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        return {
            "brief_id": e.brief_id,
            "client_id": e.client_id,
            "account_manager": e.account_manager,
            "previous_account_manager": e.previous_account_manager,
            "brief": e.brief,
            "prepared_at": recorded.envelope.occurred_at,
            "version": recorded.seq,
        }
