"""Events published by the notify service (stream NOTIFY, subjects ``notify.>``).

Notify's aggregate is one webhook subscription (``notify.webhook.<webhook_id>.<EventType>``):
where to send, what, whether it is paused, from which position, and its signing secret
(wrapped by the master key: the log never holds it in the clear).
"""

from __future__ import annotations

from datetime import datetime

from baton_shared.events.envelope import DomainEvent
from baton_shared.events.registry import EventRegistry

registry = EventRegistry()  # notify's contracts; ``contracts.registry`` knows them all


class WebhookEvent(DomainEvent):
    service = "notify"
    aggregate_type = "webhook"

    webhook_id: str


@registry.register
class WebhookSubscribed(WebhookEvent):
    "A system subscribed a URL to the events it wants; the secret is wrapped by the master key."

    event_type = "WebhookSubscribed"

    url: str
    event_types: tuple[str, ...]
    client_id: str | None = None
    department: str | None = None
    owner: str
    wrapped_secret: str  # base64 of MasterKey.wrap(webhook_id, secret)
    start_positions: dict[str, int]  # stream -> the last position not to be sent


@registry.register
class WebhookSecretRotated(WebhookEvent):
    "A new signing secret; the old one signs nothing from now on."

    event_type = "WebhookSecretRotated"

    wrapped_secret: str


@registry.register
class WebhookPaused(WebhookEvent):
    "Deliveries stop where they are; ``reason`` says who or what paused it."

    event_type = "WebhookPaused"

    reason: str
    parked_event_id: str | None = None
    last_error: str | None = None


@registry.register
class WebhookResumed(WebhookEvent):
    "Deliveries go on from where they stopped."

    event_type = "WebhookResumed"


@registry.register
class WebhookReplayed(WebhookEvent):
    "Deliveries start again after these positions (events at or before them are not sent again)."

    event_type = "WebhookReplayed"

    positions: dict[str, int]
    since: datetime | None = None


@registry.register
class WebhookDeleted(WebhookEvent):
    "The subscription ends; nothing more is sent."

    event_type = "WebhookDeleted"
