"""Opportunities read model: one row per opportunity, from identified to its outcome review."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Index, MetaData, String, Table, Text

from baton_shared.contracts import followup as ev
from baton_shared.events.envelope import RecordedEvent
from baton_shared.projections import RowPerAggregate


class OpportunitiesProjection(RowPerAggregate):
    name = "opportunities"
    aggregate_type = "client"
    key = "opportunity_id"
    created_by = ev.OpportunityIdentified

    def define_tables(self, metadata: MetaData, suffix: str) -> None:
        self.table = self.opportunities = Table(
            f"opportunities{suffix}",
            metadata,
            Column("opportunity_id", String(64), primary_key=True),
            Column("client_id", String(64), nullable=False),
            Column("kind", String(64), nullable=False),
            Column("title", Text, nullable=False),
            Column("reason", Text, nullable=False),
            Column("rule_id", String(64), nullable=False),
            Column("request_id", String(64)),
            Column("status", String(16), nullable=False),
            Column("identified_at", DateTime(timezone=True), nullable=False),
            Column("offered_at", DateTime(timezone=True)),
            Column("declined_reason", Text),
            Column("cool_down_until", Date),
            Column("won_at", DateTime(timezone=True)),
            Column("outcome_review_on", Date),
            Column("delivered_value", String(32)),
            Column("outcome_note", Text),
            Column("reviewed_at", DateTime(timezone=True)),
            Column("estimated_value", String(40)),
            Column("agreed_value", String(40)),
            Column("realised_value", String(40)),
            Column("currency", String(3)),
            Column("updated_at", DateTime(timezone=True), nullable=False),
            Column("version", BigInteger, nullable=False),
            Index(f"ix_opportunities{suffix}_client", "client_id", "status"),
        )

    def key_of(self, recorded: RecordedEvent) -> str | None:
        return getattr(recorded.event, "opportunity_id", None)

    def wanted(self, recorded: RecordedEvent) -> bool:
        return isinstance(
            recorded.event,
            (
                ev.OpportunityIdentified,
                ev.OpportunityOffered,
                ev.OpportunityValued,
                ev.OpportunityDeclined,
                ev.OpportunityWon,
                ev.OpportunityOutcomeReviewed,
            ),
        )

    def fold(self, row: dict | None, recorded: RecordedEvent) -> dict | None:
        e, at = recorded.event, recorded.envelope.occurred_at
        if isinstance(e, ev.OpportunityIdentified):
            return {
                "opportunity_id": e.opportunity_id,
                "client_id": e.client_id,
                "kind": e.kind,
                "title": e.title,
                "reason": e.reason,
                "rule_id": e.rule_id,
                "request_id": e.request_id,
                "status": "identified",
                "identified_at": at,
                "offered_at": None,
                "declined_reason": None,
                "cool_down_until": None,
                "won_at": None,
                "outcome_review_on": None,
                "delivered_value": None,
                "outcome_note": None,
                "reviewed_at": None,
                "estimated_value": None,
                "agreed_value": None,
                "realised_value": None,
                "currency": None,
                "updated_at": at,
                "version": recorded.seq,
            }
        if row is None:
            return None
        row = dict(row, updated_at=at, version=recorded.seq)
        if isinstance(e, ev.OpportunityOffered):
            row.update(status="offered", offered_at=e.offered_at)
        elif isinstance(e, ev.OpportunityDeclined):
            row.update(status="declined", declined_reason=e.reason, cool_down_until=e.cool_down_until)
        elif isinstance(e, ev.OpportunityValued):
            row.update(estimated_value=str(e.estimated_value), currency=e.currency)
        elif isinstance(e, ev.OpportunityWon):
            row.update(status="won", won_at=e.won_at, outcome_review_on=e.outcome_review_on)
            if e.agreed_value is not None:
                row.update(agreed_value=str(e.agreed_value), currency=e.currency)
        elif isinstance(e, ev.OpportunityOutcomeReviewed):
            row.update(
                status="reviewed", delivered_value=e.delivered_value, outcome_note=e.note, reviewed_at=e.reviewed_at
            )
            if e.realised_value is not None:
                row.update(realised_value=str(e.realised_value), currency=e.currency)
        return row
