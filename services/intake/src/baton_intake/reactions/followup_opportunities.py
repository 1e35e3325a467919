"""Follow-up's won opportunities -> a new request in intake (the loop closes).

The new request's id is derived from the opportunity, so a redelivered win
opens nothing twice; the need names the opportunity it came from.
"""

from __future__ import annotations

from baton_shared.contracts import STREAMS
from baton_shared.contracts import followup
from baton_shared.events.envelope import DomainEvent, RecordedEvent, derived_event_id
from baton_shared.eventstore import AggregateHistory
from baton_shared.reactions import Reaction

from baton_intake.domain import Request


def request_id_for(opportunity_id: str) -> str:
    return derived_event_id(opportunity_id, "request")


class OpenRequestsForWonOpportunities(Reaction):
    name = "followup_opportunities"
    source = STREAMS["followup"]
    event_types = ("OpportunityWon",)

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        return ("request", request_id_for(cause.event.opportunity_id))

    def decide(self, history: AggregateHistory, cause: RecordedEvent, context: object = None) -> list[DomainEvent]:
        if history.events:
            return []  # already opened
        e: followup.OpportunityWon = cause.event
        request = Request.capture(
            request_id_for(e.opportunity_id),
            client_id=e.client_id,
            summary=e.need_summary + (f" — {e.note}" if e.note else ""),
            today=e.won_at.date(),
            requirements={"opportunity_kind": e.kind},
            source_opportunity_id=e.opportunity_id,
        )
        return request.pending
