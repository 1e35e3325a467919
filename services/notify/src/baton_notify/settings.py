"""Notify's own settings (``BATON_WEBHOOKS_*``, ``BATON_SMTP_*``, ``BATON_NOTICES_*``), on top of
every service's ``BATON_*``."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator

from baton_shared.service.settings import read_secret_file, refuse_placeholder

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
        0.2, gt=0, le=60, description="how often the active webhooks are read (a new, paused or changed one is seen)"
    )
    webhooks_recheck_seconds: float = Field(
        5, gt=0, le=3600, description="the longest a caught-up webhook waits for news of an event before reading anyway"
    )
    webhooks_max_response_bytes: int = Field(65_536, ge=0, le=10_000_000, description="most of an answer notify reads")

    # --- e-mail notices (BATON_SMTP_*, BATON_NOTICES_*) ---
    smtp_host: str | None = Field(
        None, description="the SMTP server notices go through; unset: notices are queued, not sent"
    )
    smtp_port: int = Field(587, ge=1, le=65535, description="its port")
    smtp_tls: Literal["starttls", "implicit", "none"] = Field(
        "starttls",
        description="STARTTLS on a plain connection, TLS from the first byte (465), or none (loopback tests)",
    )
    smtp_username: str | None = Field(None, description="the SMTP login, when the server wants one")
    smtp_password: SecretStr | None = Field(None, description="its password")
    smtp_password_file: Path | None = Field(None, description="a file holding the password (a compose secret)")
    smtp_from: str = Field("Baton <baton@localhost>", description="the From of every notice")
    smtp_message_domain: str = Field("baton.local", description="the right-hand side of each notice's Message-ID")
    smtp_timeout_seconds: float = Field(30, gt=0, le=300, description="one send's connect + conversation time")
    notices_horizon_seconds: float = Field(
        86_400,
        gt=0,
        description="a cause older than this is never told (a consumer started over, a replay, a long outage)",
    )
    notices_poll_seconds: float = Field(1.0, gt=0, le=60, description="how often the outbox looks for notices to send")
    notices_claim_seconds: float = Field(
        120, gt=0, le=3600, description="how long a replica's claim on a notice lasts (another may send it after)"
    )
    notices_retry_for_seconds: float = Field(
        6 * 3600, gt=0, le=7 * 86_400, description="how long a failing notice is retried before it is given up"
    )
    notices_backoff_first_seconds: float = Field(5, gt=0, le=3600, description="first retry delay (doubles each time)")
    notices_backoff_max_seconds: float = Field(900, gt=0, le=86_400, description="longest retry delay")
    notices_digest_hour: int = Field(7, ge=0, le=23, description="the hour (in notices_timezone) of the morning digest")
    notices_digest_until_hour: int = Field(
        12, ge=1, le=24, description="no digest is queued from this hour on (a service down all morning sends none)"
    )
    notices_timezone: str = Field("UTC", description="the IANA zone of the digest hour, e.g. Europe/Berlin")
    notices_console_url: str | None = Field(
        None, description="the console's address, for links in notices (unset: no links)"
    )

    @field_validator("notices_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"BATON_NOTICES_TIMEZONE: no time zone {value!r} (e.g. UTC, Europe/Berlin)") from None
        return value

    @model_validator(mode="after")
    def _smtp_password_from_file(self) -> NotifySettings:
        if self.smtp_password is None and self.smtp_password_file is not None:
            self.smtp_password = SecretStr(read_secret_file("BATON_SMTP_PASSWORD_FILE", self.smtp_password_file))
        if self.smtp_password is not None and not self.smtp_password.get_secret_value():
            self.smtp_password = None  # compose's secret of an empty setting: no login
        if self.smtp_password is not None:
            refuse_placeholder("BATON_SMTP_PASSWORD", self.smtp_password.get_secret_value())
        return self
