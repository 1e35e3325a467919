"""Intake's request events -> delivery's work orders.

One reaction, one durable consumer, for the three event types, so they are
handled in the order intake recorded them (a cancellation never overtakes the
handoff it cancels):

- HandoffRequested -> a work order for that department (id = the handoff id);
- ChangeRequested  -> the change attached to the affected work orders;
- RequestCancelled -> the request's live work orders cancelled.
"""

from __future__ import annotations

from baton_shared.contracts import STREAMS
from baton_shared.contracts import intake
from baton_shared.events.envelope import RecordedEvent
from baton_shared.reactions import AggregateReaction

from baton_delivery.domain import RequestDelivery


class FollowIntakeRequests(AggregateReaction[RequestDelivery]):
    aggregate_class = RequestDelivery
    name = "intake_requests"
    source = STREAMS["intake"]
    event_types = ("HandoffRequested", "ChangeRequested", "RequestCancelled")

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        return ("request", cause.event.request_id)

    def act(self, delivery: RequestDelivery, cause: RecordedEvent, context: object = None) -> None:
        event = cause.event
        if isinstance(event, intake.HandoffRequested):
            delivery.open_work_order(event, cause.envelope.event_id)
        elif isinstance(event, intake.ChangeRequested):
            delivery.attach_change(event, cause.envelope.occurred_at)
        elif isinstance(event, intake.RequestCancelled):
            delivery.cancel(event.reason)
