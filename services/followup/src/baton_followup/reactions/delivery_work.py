"""Delivery's overdue and blocked work -> the client's relationship, so health counts it.

Only a change of concern is recorded (a work order completed on time records nothing);
the reaction runner derives the event id from the cause, so a redelivery records nothing twice.
"""

from __future__ import annotations

from typing import Any

from baton_shared.contracts import STREAMS
from baton_shared.events.envelope import DomainEvent, RecordedEvent
from baton_shared.eventstore import AggregateHistory
from baton_shared.reactions import CauseNotReady, Reaction

from baton_followup.domain import Relationship
from baton_followup.domain.concerns import WORK_EVENTS


class FollowDeliveryWork(Reaction):
    name = "delivery_work"
    source = STREAMS["delivery"]
    event_types = WORK_EVENTS

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        return ("client", cause.event.client_id)

    def decide(self, history: AggregateHistory, cause: RecordedEvent, context: Any = None) -> list[DomainEvent]:
        e = cause.event
        relationship = Relationship.from_history(e.client_id, history)
        if not relationship.started:
            raise CauseNotReady(f"client {e.client_id}: no relationship yet (intake's ClientRegistered not handled)")
        relationship.note_work(e.event_type, e.work_order_id, e.request_id, e.department, cause.envelope.occurred_at)
        return relationship.pending
