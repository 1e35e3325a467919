"""The one registry of every Baton event contract."""

from baton_shared.events.registry import EventRegistry

registry = EventRegistry()

# Importing the contract modules registers their events.
from baton_shared.contracts import delivery as _delivery  # noqa: E402,F401
from baton_shared.contracts import followup as _followup  # noqa: E402,F401
from baton_shared.contracts import intake as _intake  # noqa: E402,F401
