"""What each client has due, projected from follow-up's stream: the open follow-ups, recoveries
and complaints a morning digest lists for the client's account manager."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Boolean, Column, Date, Index, MetaData, String, Table, Text

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate

ITEM_OF = {
    ev.FollowUpScheduled: "follow_up_id",
    ev.FollowUpRescheduled: "follow_up_id",
    ev.FollowUpClosed: "follow_up_id",
    ev.RecoveryOpened: "recovery_id",
    ev.RecoveryClosed: "recovery_id",
    ev.ComplaintOpened: "complaint_id",
    ev.ComplaintReopened: "complaint_id",
    ev.ComplaintResolved: "complaint_id",
}
CLOSING = (ev.FollowUpClosed, ev.RecoveryClosed, ev.ComplaintResolved)


def _day(value: date | datetime) -> date:
    return value.date() if isinstance(value, datetime) else value


class AgendaProjection(RowPerAggregate):
    name = "agenda"
    source = "followup"
    aggregate_type = "client"
    key = "item_id"
    created_by = None

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = Table(
            f"notice_agenda{suffix}",
            metadata,
            Column("item_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("what", String(40), nullable=False),  # follow-up kind, "recovery" or "complaint"
            Column("reason", Text, nullable=False),
            Column("due_on", Date, nullable=False),
            Column("open", Boolean, nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_notice_agenda{suffix}_client_due", "client_id", "open", "due_on"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        field = ITEM_OF.get(type(recorded.event))
        return None if field is None else getattr(recorded.event, field)

    def wanted(self, recorded: RecordedEvent) -> bool:
        return type(recorded.event) in ITEM_OF

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e = recorded.event
        base = {"item_id": self.key_of(recorded), "client_id": e.client_id, "open": True, "version": recorded.seq}
        if isinstance(e, ev.FollowUpScheduled):
            return {**base, "what": f"follow-up: {e.kind}", "reason": e.reason, "due_on": e.due_on}
        if isinstance(e, ev.RecoveryOpened):
            return {**base, "what": "recovery", "reason": e.reason, "due_on": e.due_on}
        if isinstance(e, ev.ComplaintOpened):
            return {**base, "what": "complaint", "reason": e.description[:300], "due_on": _day(e.respond_by)}
        if row is None:
            return None
        row = dict(row, version=recorded.seq)
        if isinstance(e, ev.FollowUpRescheduled):
            row["due_on"] = e.due_on
        elif isinstance(e, ev.ComplaintReopened):
            row.update(open=True, due_on=_day(e.resolve_by))
        elif isinstance(e, CLOSING):
            row["open"] = False
        return row
