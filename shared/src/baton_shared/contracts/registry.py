"""The one registry of every Baton event contract."""

from baton_shared.contracts import delivery, followup, intake, notify
from baton_shared.events.registry import EventRegistry

registry = EventRegistry()
for published in (delivery.registry, intake.registry, followup.registry, notify.registry):
    registry.include(published)
