"""Complaints read model: one row per complaint case, its deadlines, breaches and escalation."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Integer, MetaData, String, Table, Text

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate

EVENTS = (
    ev.ComplaintOpened,
    ev.ComplaintAcknowledged,
    ev.ComplaintAssigned,
    ev.ComplaintResolved,
    ev.ComplaintConfirmed,
    ev.ComplaintReopened,
    ev.ComplaintDeadlineBreached,
)


class ComplaintsProjection(RowPerAggregate):
    name = "complaints"
    aggregate_type = "client"
    key = "complaint_id"
    created_by = ev.ComplaintOpened

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.complaints = Table(
            f"complaints{suffix}",
            metadata,
            Column("complaint_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("account_manager", String(200), nullable=False),
            Column("tier", String(16), nullable=False),
            Column("category", String(32), nullable=False),
            Column("severity", String(16), nullable=False),
            Column("description", Text, nullable=False),
            Column("request_id", String(64)),
            Column("work_order_id", String(64)),
            Column("program_id", String(64)),
            Column("status", String(16), nullable=False),
            Column("department", String(64)),
            Column("round", Integer, nullable=False),
            Column("opened_at", DateTime(timezone=True), nullable=False),
            Column("respond_by", DateTime(timezone=True), nullable=False),
            Column("resolve_by", DateTime(timezone=True), nullable=False),
            Column("acknowledged_at", DateTime(timezone=True)),
            Column("response", Text),
            Column("resolved_at", DateTime(timezone=True)),
            Column("resolution", Text),
            Column("root_cause", Text),
            Column("confirmed_at", DateTime(timezone=True)),
            Column("reopened_reason", Text),
            Column("breaches", JSON, nullable=False),
            Column("escalated_to_role", String(32)),
            Column("escalated_to", String(200)),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_complaints{suffix}_client", "client_id", "status"),
            Index(f"ix_complaints{suffix}_department", "department", "status"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        return getattr(recorded.event, "complaint_id", None)

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, EVENTS)

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if isinstance(e, ev.ComplaintOpened):
            return {
                "complaint_id": e.complaint_id,
                "client_id": e.client_id,
                "account_manager": e.account_manager,
                "tier": e.tier,
                "category": e.category,
                "severity": e.severity,
                "description": e.description,
                "request_id": e.request_id,
                "work_order_id": e.work_order_id,
                "program_id": e.program_id,
                "status": "opened",
                "department": None,
                "round": 1,
                "opened_at": e.opened_at,
                "respond_by": e.respond_by,
                "resolve_by": e.resolve_by,
                "acknowledged_at": None,
                "response": None,
                "resolved_at": None,
                "resolution": None,
                "root_cause": None,
                "confirmed_at": None,
                "reopened_reason": None,
                "breaches": [],
                "escalated_to_role": None,
                "escalated_to": None,
                "updated_at": at,
                "version": recorded.seq,
            }
        if row is None:
            return None
        row = dict(row, updated_at=at, version=recorded.seq)
        if isinstance(e, ev.ComplaintAcknowledged):
            row.update(status="acknowledged", acknowledged_at=e.acknowledged_at, response=e.response)
        elif isinstance(e, ev.ComplaintAssigned):
            row.update(status="in_progress", department=e.department)
        elif isinstance(e, ev.ComplaintResolved):
            row.update(status="resolved", resolved_at=e.resolved_at, resolution=e.resolution, root_cause=e.root_cause)
        elif isinstance(e, ev.ComplaintConfirmed):
            row.update(status="confirmed", confirmed_at=e.confirmed_at)
        elif isinstance(e, ev.ComplaintReopened):
            row.update(status="reopened", reopened_reason=e.reason, resolve_by=e.resolve_by, round=e.round)
        elif isinstance(e, ev.ComplaintDeadlineBreached):
            breach = {
                "deadline": e.deadline,
                "round": e.round,
                "due_at": e.due_at.isoformat(),
                "detected_at": e.detected_at.isoformat(),
                "escalated_to_role": e.escalated_to_role,
                "escalated_to": e.escalated_to,
            }
            row.update(
                breaches=[*row["breaches"], breach], escalated_to_role=e.escalated_to_role, escalated_to=e.escalated_to
            )
        return row
