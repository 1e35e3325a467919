"""Intake's registrations -> the contact groups: an account whose contact person is in a
group (``ClientRegistered.contact_group``, a keyed fingerprint) joins that group."""

from __future__ import annotations

from typing import Any

from baton_shared.contracts import STREAMS
from baton_shared.events.envelope import DomainEvent, RecordedEvent
from baton_shared.eventstore import AggregateHistory
from baton_shared.reactions import Reaction

from baton_followup.domain import ContactGroup


class JoinContactGroups(Reaction):
    name = "contact_groups"
    source = STREAMS["intake"]
    event_types = ("ClientRegistered",)

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        group_id = getattr(cause.event, "contact_group", None)
        return None if group_id is None else ("contact_group", group_id)

    def decide(self, history: AggregateHistory, cause: RecordedEvent, context: Any = None) -> list[DomainEvent]:
        group = ContactGroup.from_history(cause.event.contact_group, history)
        group.join(cause.event.client_id)
        return group.pending
