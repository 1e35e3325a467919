"""What follow-up's reactions to delivery have in common: the cause is about a client, and is
decided on the client's relationship once follow-up knows the client."""

from __future__ import annotations

from baton_shared.contracts import STREAMS
from baton_shared.events.envelope import RecordedEvent
from baton_shared.reactions import AggregateReaction, CauseNotReady

from baton_followup.domain import Relationship


class OnRelationship(AggregateReaction[Relationship]):
    """A reaction decided on the client's relationship (held folded between causes)."""

    aggregate_class = Relationship

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        return ("client", cause.event.client_id)


class DeliveryToRelationship(OnRelationship):
    source = STREAMS["delivery"]

    @staticmethod
    def started(relationship: Relationship) -> Relationship:
        """The relationship, once it started: until intake's ClientRegistered is handled (another
        consumer, which faults can overtake) there is none, and acting would follow up a client
        follow-up does not know (no name, manager, policy or revenue): the cause waits."""
        if not relationship.started:
            raise CauseNotReady(
                f"client {relationship.id}: no relationship yet (intake's ClientRegistered not handled)"
            )
        return relationship
