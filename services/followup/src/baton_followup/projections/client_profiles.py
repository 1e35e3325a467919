"""Client profiles, projected from intake's stream: who the client is and when they last asked for something.

Feeds the tiers (every client's revenue), dormancy (the last request) and the
handover brief (profile and nuances).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, JSON, MetaData, String, Table, Text

from baton_shared.contracts import intake as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class ClientProfilesProjection(RowPerAggregate):
    name = "client_profiles"
    source = "intake"
    aggregate_type = "client"
    key = "client_id"
    created_by = ev.ClientRegistered

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.client_profiles = Table(
            f"client_profiles{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("name", String(200), nullable=False),
            Column("segment", String(8), nullable=False),
            Column("business_description", Text, nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("annual_revenue", String(40)),
            Column("notes", JSON, nullable=False),
            Column("registered_at", DateTime(timezone=True), nullable=False),
            Column("last_request_at", DateTime(timezone=True)),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_client_profiles{suffix}_last_request", "last_request_at"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        return getattr(recorded.event, "client_id", None)

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(
            recorded.event,
            (
                ev.ClientRegistered,
                ev.ClientNoteAdded,
                ev.AccountManagerAssigned,
                ev.ClientRevenueChanged,
                ev.NeedCaptured,
            ),
        )

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if isinstance(e, ev.ClientRegistered):
            return {
                "client_id": e.client_id,
                "name": e.name,
                "segment": e.segment,
                "business_description": e.business_description,
                "account_manager": e.account_manager,
                "annual_revenue": None if e.annual_revenue is None else str(e.annual_revenue),
                "notes": [],
                "registered_at": at,
                "last_request_at": None,
                "version": recorded.seq,
            }
        if row is None:
            return None
        row = dict(row, version=recorded.seq)
        if isinstance(e, ev.ClientNoteAdded):
            row["notes"] = [*row["notes"], {"at": at.isoformat(), "text": e.text, "author": e.author}]
        elif isinstance(e, ev.AccountManagerAssigned):
            row["account_manager"] = e.account_manager
        elif isinstance(e, ev.ClientRevenueChanged):
            row["annual_revenue"] = str(e.annual_revenue)
        elif isinstance(e, ev.NeedCaptured):
            row["last_request_at"] = at
        return row
