"""Programs read model: one row per program with its commitment dates, notice, end or switch."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, Integer, MetaData, String, Table, Text

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class ProgramsProjection(RowPerAggregate):
    name = "programs"
    aggregate_type = "client"
    key = "program_id"
    created_by = ev.ProgramEnrolled

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.programs = Table(
            f"programs{suffix}",
            metadata,
            Column("program_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("name", String(200), nullable=False),
            Column("status", String(16), nullable=False),
            Column("starts_on", Date, nullable=False),
            Column("minimum_term_months", Integer, nullable=False),
            Column("total_term_months", Integer, nullable=False),
            Column("notice_days", Integer, nullable=False),
            Column("minimum_term_ends_on", Date, nullable=False),
            Column("ends_on", Date, nullable=False),
            Column("notice_deadline", Date, nullable=False),
            Column("trailing_12_month_revenue", String(40), nullable=False),
            Column("monthly_fee", String(40), nullable=False),
            Column("currency", String(3), nullable=False),
            Column("cancellation_requested_on", Date),
            Column("cancellation_effective_on", Date),
            Column("cancellation_reason", Text),
            Column("ended_on", Date),
            Column("end_reason", Text),
            Column("switched_to", String(64)),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_programs{suffix}_client", "client_id"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        return getattr(recorded.event, "program_id", None)

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(recorded.event, (ev.ProgramEnrolled, ev.ProgramCancelled, ev.ProgramEnded))

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if isinstance(e, ev.ProgramEnrolled):
            return {
                "program_id": e.program_id,
                "client_id": e.client_id,
                "name": e.name,
                "status": "active",
                "starts_on": e.starts_on,
                "minimum_term_months": e.minimum_term_months,
                "total_term_months": e.total_term_months,
                "notice_days": e.notice_days,
                "minimum_term_ends_on": e.minimum_term_ends_on,
                "ends_on": e.ends_on,
                "notice_deadline": e.notice_deadline,
                "trailing_12_month_revenue": str(e.trailing_12_month_revenue),
                "monthly_fee": str(e.monthly_fee),
                "currency": e.currency,
                "cancellation_requested_on": None,
                "cancellation_effective_on": None,
                "cancellation_reason": None,
                "ended_on": None,
                "end_reason": None,
                "switched_to": None,
                "updated_at": at,
                "version": recorded.seq,
            }
        if row is None:
            return None
        if isinstance(e, ev.ProgramEnded):
            return dict(
                row,
                status="ended",
                ended_on=e.ended_on,
                end_reason=e.reason,
                switched_to=e.switched_to,
                updated_at=at,
                version=recorded.seq,
            )
        return dict(
            row,
            status="cancelled",
            cancellation_requested_on=e.requested_on,
            cancellation_effective_on=e.effective_on,
            cancellation_reason=e.reason,
            updated_at=at,
            version=recorded.seq,
        )
