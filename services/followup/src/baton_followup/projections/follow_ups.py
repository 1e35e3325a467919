"""Follow-ups read model: one row per follow-up, what the agenda is made of."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, MetaData, String, Table, Text

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class FollowUpsProjection(RowPerAggregate):
    name = "follow_ups"
    aggregate_type = "client"
    key = "follow_up_id"
    created_by = ev.FollowUpScheduled

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.follow_ups = Table(
            f"follow_ups{suffix}",
            metadata,
            Column("follow_up_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("kind", String(32), nullable=False),
            Column("due_on", Date, nullable=False),
            Column("status", String(16), nullable=False),
            Column("reason", Text, nullable=False),
            Column("request_id", String(64)),
            Column("opportunity_id", String(64)),
            Column("program_id", String(64)),
            Column("brief_id", String(64)),
            Column("outcome", String(32)),
            Column("closed_reason", Text),
            Column("overdue_on", Date),  # the due date a ReviewOverdue was recorded for
            Column("scheduled_at", DateTime(timezone=True), nullable=False),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            # The agenda's columns too, so that its counts and order read no row.
            Index(f"ix_follow_ups{suffix}_due", "status", "due_on", "kind", "client_id", "follow_up_id"),
            Index(f"ix_follow_ups{suffix}_client", "client_id", "status", "due_on", "kind", "follow_up_id"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        return getattr(recorded.event, "follow_up_id", None)

    def wanted(self, recorded: RecordedEvent) -> bool:
        e = recorded.event
        return isinstance(e, (ev.FollowUpScheduled, ev.FollowUpRescheduled, ev.FollowUpClosed, ev.ReviewOverdue)) or (
            isinstance(e, ev.ContactRecorded) and e.follow_up_id is not None
        )

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        return fold_follow_up(row, recorded)


def fold_follow_up(row: dict | None, recorded: RecordedEvent) -> dict | None:
    """A follow-up's row after ``recorded`` (the agenda's projection folds them the same way)."""
    e, at = recorded.event, recorded.envelope.occurred_at
    if isinstance(e, ev.FollowUpScheduled):
        return {
            "follow_up_id": e.follow_up_id,
            "client_id": e.client_id,
            "kind": e.kind,
            "due_on": e.due_on,
            "status": "open",
            "reason": e.reason,
            "request_id": e.request_id,
            "opportunity_id": e.opportunity_id,
            "program_id": e.program_id,
            "brief_id": e.brief_id,
            "outcome": None,
            "closed_reason": None,
            "overdue_on": None,
            "scheduled_at": at,
            "updated_at": at,
            "version": recorded.seq,
        }
    if row is None:
        return None
    row = dict(row, updated_at=at, version=recorded.seq)
    if isinstance(e, ev.FollowUpRescheduled):
        row["due_on"] = e.due_on
    elif isinstance(e, ev.FollowUpClosed):
        row.update(status="closed", closed_reason=e.reason)
    elif isinstance(e, ev.ReviewOverdue):
        row["overdue_on"] = e.due_on
    elif isinstance(e, ev.ContactRecorded):
        row["outcome"] = e.outcome
        if e.outcome in ("reached", "stop") and row["kind"] != "recovery":  # closed only by RecoveryClosed
            row["status"] = "done"
    return row
