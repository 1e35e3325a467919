"""Notify's own settings (``BATON_WEBHOOKS_*``), on top of every service's ``BATON_*``."""

from __future__ import annotations

from pydantic import Field

from baton_shared.service.settings import BatonSettings


class NotifySettings(BatonSettings):
    webhooks_allow_private: bool = Field(
        False, description="send webhooks to loopback, private and link-local addresses too (tests, closed networks)"
    )
    webhooks_timeout_seconds: float = Field(10, gt=0, le=120, description="one delivery's connect + answer time")
    webhooks_retry_for_seconds: float = Field(
        6 * 3600, gt=0, le=7 * 86_400, description="how long a failing delivery is retried before the webhook is paused"
    )
    webhooks_backoff_first_seconds: float = Field(1, gt=0, le=3600, description="first retry delay (doubles each time)")
    webhooks_backoff_max_seconds: float = Field(600, gt=0, le=86_400, description="longest retry delay")
    webhooks_poll_seconds: float = Field(
        0.2, gt=0, le=60, description="how often a caught-up webhook looks for new events"
    )
    webhooks_max_response_bytes: int = Field(65_536, ge=0, le=10_000_000, description="most of an answer notify reads")
