"""Contact groups read model: one row per group with its accounts and its recent contact
slots, so the agenda can say what the group's policy would answer before anyone calls."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, JSON, MetaData, String, Table

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate

from baton_followup.domain.one_voice import Slot

KEEP_SLOTS = 60  # the policy never allows more than 60 contacts in 30 days


class ContactGroupsProjection(RowPerAggregate):
    name = "contact_groups"
    aggregate_type = "contact_group"
    key = "group_id"
    created_by = None  # a slot may be taken before the first join is recorded

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.contact_groups = Table(
            f"contact_groups{suffix}",
            metadata,
            Column("group_id", String(64), primary_key=True),
            Column("members", JSON, nullable=False),
            Column("slots", JSON, nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
        )

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, ev.ContactGroupEvent)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        row = dict(
            row or {"group_id": e.group_id, "members": [], "slots": []},
            updated_at=recorded.envelope.occurred_at,
            version=recorded.seq,
        )
        if isinstance(e, ev.ContactGroupJoined) and e.client_id not in row["members"]:
            row["members"] = [*row["members"], e.client_id]
        elif isinstance(e, ev.GroupContactTaken):
            slot = {
                "client_id": e.client_id,
                "contact_id": e.contact_id,
                "account_manager": e.account_manager,
                "taken_at": e.taken_at.isoformat(),
            }
            row["slots"] = [*row["slots"], slot][-KEEP_SLOTS:]
        return row


def slots_of(row: dict) -> list[Slot]:
    return [
        Slot(s["client_id"], s["contact_id"], s["account_manager"], datetime.fromisoformat(s["taken_at"]))
        for s in row["slots"]
    ]
