"""Delivery's rejection -> a recovery for the account manager (issue 20: recovery before selling).

The recovery's id is derived from the rejection, so a redelivered rejection opens
nothing twice; while it is open the contact policy holds every offer.
"""

from __future__ import annotations

from typing import Any

from baton_shared.application import AggregateCache
from baton_shared.events.envelope import RecordedEvent, derived_event_id

from baton_followup.domain import RecoveryRules, Relationship
from baton_followup.reactions.on_relationship import DeliveryToRelationship


class FollowDeliveryRejection(DeliveryToRelationship):
    name = "delivery_rejection"
    event_types = ("DeliveryRejected",)

    def __init__(self, rules: RecoveryRules = RecoveryRules(), cache: AggregateCache | None = None) -> None:
        super().__init__(cache)
        self.rules = rules

    def act(self, relationship: Relationship, cause: RecordedEvent, context: Any = None) -> None:
        e = cause.event
        self.started(relationship)
        rework = "; ".join(f"{item.department}: {item.description}" for item in e.rework)
        relationship.open_recovery(
            derived_event_id(cause.envelope.event_id, "recovery"),
            "delivery_rejected",
            f"the client rejected the delivery of request {e.request_id} (round {e.handover_round})",
            " / ".join(part for part in (e.feedback, rework) if part),
            cause.envelope.occurred_at,
            self.rules,
            request_id=e.request_id,
        )
