"""Events published by the notify service (stream NOTIFY, subjects ``notify.>``).

Notify's aggregates:

- a webhook subscription (``notify.webhook.<webhook_id>.<EventType>``): where to send, what,
  whether it is paused, from which position, and its signing secret (wrapped by the master
  key: the log never holds it in the clear);
- a notice (``notify.notice.<notice_id>...``): one e-mail to one person for one cause (an
  event, or a morning's agenda), queued, claimed by one replica, sent or given up;
- a person's notice preferences (``notify.person.<name>...``): the kinds of notice they turned off.

A notice carries the person's name, never their address (that stays in the token directory).
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


class NoticeEvent(DomainEvent):
    service = "notify"
    aggregate_type = "notice"

    notice_id: str


@registry.register
class NoticeQueued(NoticeEvent):
    """A person is to be told of a cause. The id is derived from the cause and the person, so a
    cause handled twice queues one notice; ``cause_at`` is when the cause happened (notices for
    causes older than the horizon are not sent)."""

    event_type = "NoticeQueued"

    person: str
    kind: str
    cause_id: str  # the event that caused it, or "digest:<person>:<date>"
    cause_at: datetime
    subject: str
    body: str
    client_id: str | None = None


@registry.register
class NoticeClaimed(NoticeEvent):
    "One replica took the notice to send; another may take it after ``until`` (the claimer died)."

    event_type = "NoticeClaimed"

    by: str
    until: datetime
    attempt: int


@registry.register
class NoticeSent(NoticeEvent):
    "The mail server accepted the notice for ``person``."

    event_type = "NoticeSent"

    person: str
    sent_at: datetime
    message_id: str


@registry.register
class NoticeFailed(NoticeEvent):
    "An attempt failed; the notice is tried again from ``retry_at``."

    event_type = "NoticeFailed"

    attempt: int
    error: str
    retry_at: datetime


@registry.register
class NoticeGivenUp(NoticeEvent):
    """The notice will not be sent to ``person``: retries ran out, its cause passed the horizon,
    the person turned its kind off or has no e-mail address."""

    event_type = "NoticeGivenUp"

    person: str
    reason: str


class PersonEvent(DomainEvent):
    service = "notify"
    aggregate_type = "person"

    person: str


@registry.register
class NoticeKindTurnedOff(PersonEvent):
    "The person wants no more notices of this kind."

    event_type = "NoticeKindTurnedOff"

    kind: str
    by: str


@registry.register
class NoticeKindTurnedOn(PersonEvent):
    "The person wants notices of this kind again."

    event_type = "NoticeKindTurnedOn"

    kind: str
    by: str
