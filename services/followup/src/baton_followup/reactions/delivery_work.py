"""Delivery's overdue and blocked work -> the client's relationship, so health counts it.

Only a change of concern is recorded (a work order completed on time records nothing);
the reaction runner derives the event id from the cause, so a redelivery records nothing twice.
"""

from __future__ import annotations

from typing import Any

from baton_shared.events.envelope import RecordedEvent

from baton_followup.domain import Relationship
from baton_followup.domain.concerns import WORK_EVENTS
from baton_followup.reactions.on_relationship import DeliveryToRelationship


class FollowDeliveryWork(DeliveryToRelationship):
    name = "delivery_work"
    event_types = WORK_EVENTS

    def act(self, relationship: Relationship, cause: RecordedEvent, context: Any = None) -> None:
        e = cause.event
        self.started(relationship).note_work(
            e.event_type, e.work_order_id, e.request_id, e.department, cause.envelope.occurred_at
        )
