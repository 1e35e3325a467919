"""What follow-up's reactions to delivery have in common: the cause is about a client, and is
decided on the client's relationship once follow-up knows the client."""

from __future__ import annotations

from baton_shared.contracts import STREAMS
from baton_shared.events.envelope import RecordedEvent
from baton_shared.eventstore import AggregateHistory
from baton_shared.reactions import CauseNotReady, Reaction

from baton_followup.domain import Relationship


class DeliveryToRelationship(Reaction):
    source = STREAMS["delivery"]

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        return ("client", cause.event.client_id)

    @staticmethod
    def relationship(history: AggregateHistory, client_id: str) -> Relationship:
        """The client's relationship; until intake's ClientRegistered is handled (another consumer,
        which faults can overtake) there is none, and acting would follow up a client follow-up
        does not know (no name, manager, policy or revenue): the cause waits."""
        relationship = Relationship.from_history(client_id, history)
        if not relationship.started:
            raise CauseNotReady(f"client {client_id}: no relationship yet (intake's ClientRegistered not handled)")
        return relationship
