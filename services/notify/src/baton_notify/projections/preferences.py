"""Each person's notice kinds turned off (notify's own stream)."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, MetaData, String, Table

from baton_shared.contracts import notify as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class PreferencesProjection(RowPerAggregate):
    name = "notice_preferences"
    aggregate_type = "person"
    key = "person"
    created_by = None

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = Table(
            f"notice_preferences{suffix}",
            metadata,
            Column("person", String(200), primary_key=True),
            Column("turned_off", JSON, nullable=False),
            Column("version", BigInteger, nullable=False),
        )

    def key_of(self, recorded: RecordedEvent) -> str:
        return recorded.event.person

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        off = set(row["turned_off"]) if row else set()
        if isinstance(e, ev.NoticeKindTurnedOff):
            off.add(e.kind)
        elif isinstance(e, ev.NoticeKindTurnedOn):
            off.discard(e.kind)
        return {"person": e.person, "turned_off": sorted(off), "version": recorded.seq}
