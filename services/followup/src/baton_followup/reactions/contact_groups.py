"""Intake's clients -> the contact groups: an account joins its contact person's group
(``ClientRegistered.contact_group``, a keyed fingerprint) and its parent organisation's
(``ClientGrouped``)."""

from __future__ import annotations

from typing import Any

from baton_shared.contracts import STREAMS, intake
from baton_shared.events.envelope import DomainEvent, RecordedEvent
from baton_shared.reactions import AggregateReaction

from baton_followup.domain import ContactGroup


class JoinContactGroups(AggregateReaction[ContactGroup]):
    aggregate_class = ContactGroup
    name = "contact_groups"
    source = STREAMS["intake"]
    event_types = ("ClientRegistered", "ClientGrouped")

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        group_id = _group_of(cause.event)
        return None if group_id is None else ("contact_group", group_id)

    def act(self, group: ContactGroup, cause: RecordedEvent, context: Any = None) -> None:
        group.join(cause.event.client_id)


def _group_of(event: DomainEvent | None) -> str | None:
    if isinstance(event, intake.ClientGrouped):
        return event.group_id
    return getattr(event, "contact_group", None)
