"""Notify's commands, in the imperative. Each carries who issued it, why, and its key (``Command``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from baton_shared.application import Command


@dataclass(frozen=True, kw_only=True)
class SubscribeWebhook(Command):
    url: str
    event_types: tuple[str, ...]
    client_id: str | None = None
    department: str | None = None


@dataclass(frozen=True, kw_only=True)
class WebhookCommand(Command):
    webhook_id: str


@dataclass(frozen=True, kw_only=True)
class RotateWebhookSecret(WebhookCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class PauseWebhook(WebhookCommand):
    reason: str = "paused by a caller"
    parked_event_id: str | None = None  # set when notify pauses it: the delivery it parked
    last_error: str | None = None


@dataclass(frozen=True, kw_only=True)
class ResumeWebhook(WebhookCommand):
    pass


@dataclass(frozen=True, kw_only=True)
class ReplayWebhook(WebhookCommand):
    positions: dict[str, int] = field(default_factory=dict)
    since: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DeleteWebhook(WebhookCommand):
    pass
