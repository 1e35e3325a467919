"""Clients read model: one row per client, with profile, notes and contact policy.

``contacts`` keeps what the event holds: the sealed contacts (``{"sealed": …}``, opened
by the views when shown, so this database never holds them in the clear), or the
plaintext list of a v1 event. ``ClientForgotten`` empties it and sets
``personal_data_erased_at``.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Index, JSON, MetaData, String, Table, Text

from baton_shared.contracts import intake as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class ClientsProjection(RowPerAggregate):
    name = "clients"
    aggregate_type = "client"
    key = "client_id"
    created_by = ev.ClientRegistered

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.clients = Table(
            f"clients{suffix}",
            metadata,
            Column("client_id", String(64), primary_key=True),
            Column("name", String(200), nullable=False),
            Column("segment", String(8), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("business_description", Text, nullable=False),
            Column("annual_revenue", String(40)),  # exact decimal as text
            Column("contacts", JSON, nullable=False),
            Column("contact_policy", JSON, nullable=False),
            Column("notes", JSON, nullable=False),
            Column("account_manager_history", JSON, nullable=False),
            Column("registered_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Column("personal_data_erased_at", DateTime(timezone=True)),
            Index(f"ix_clients{suffix}_account_manager", "account_manager", "name"),
        )

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        return fold(row, recorded)


def fold(row: dict | None, recorded: RecordedEvent) -> dict | None:
    e, env = recorded.event, recorded.envelope
    if isinstance(e, ev.ClientRegistered):
        return {
            "client_id": e.client_id,
            "name": e.name,
            "segment": e.segment,
            "account_manager": e.account_manager,
            "business_description": e.business_description,
            "annual_revenue": None if e.annual_revenue is None else str(e.annual_revenue),
            "contacts": (
                {"sealed": e.sealed_contacts.model_dump(mode="json")}
                if e.sealed_contacts is not None
                else [c.model_dump(mode="json") for c in e.legacy_contacts]
            ),
            "contact_policy": e.contact_policy.model_dump(mode="json"),
            "notes": [],
            "account_manager_history": [{"account_manager": e.account_manager, "since": env.occurred_at.isoformat()}],
            "registered_at": env.occurred_at,
            "updated_at": env.occurred_at,
            "version": recorded.seq,
            "personal_data_erased_at": None,
        }
    if row is None:
        return None  # an event for a client this projection never saw registered
    row = dict(row, updated_at=env.occurred_at, version=recorded.seq)
    if isinstance(e, ev.ClientNoteAdded):
        row["notes"] = [
            *row["notes"],
            {"note_id": e.note_id, "text": e.text, "author": e.author, "added_at": env.occurred_at.isoformat()},
        ]
    elif isinstance(e, ev.AccountManagerAssigned):
        row["account_manager"] = e.account_manager
        row["account_manager_history"] = [
            *row["account_manager_history"],
            {
                "account_manager": e.account_manager,
                "since": env.occurred_at.isoformat(),
                "handover_note": e.handover_note,
            },
        ]
    elif isinstance(e, ev.ContactPolicyChanged):
        row["contact_policy"] = e.contact_policy.model_dump(mode="json")
    elif isinstance(e, ev.ClientRevenueChanged):
        row["annual_revenue"] = str(e.annual_revenue)
    elif isinstance(e, ev.ClientForgotten):
        row["contacts"] = []
        row["personal_data_erased_at"] = row.get("personal_data_erased_at") or env.occurred_at
    return row
