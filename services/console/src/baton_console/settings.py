"""The console's settings, from ``BATON_CONSOLE_`` environment variables."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATON_CONSOLE_", extra="ignore")

    http_host: str = "127.0.0.1"
    http_port: int = 8000
    intake_url: str = "http://127.0.0.1:8001"
    delivery_url: str = "http://127.0.0.1:8002"
    followup_url: str = "http://127.0.0.1:8003"
    notify_url: str = "http://127.0.0.1:8004"
    secret: str | None = Field(
        None, description="Fernet key sealing the session cookie (every replica needs the same one)."
    )
    secret_file: Path | None = Field(None, description="A file holding the Fernet key (compose secret).")
    data_dir: Path = Field(Path(os.environ.get("BATON_DATA_DIR", "var")), description="Where a made-up key is kept.")
    session_hours: float = Field(10, gt=0, le=24 * 7, description="A session ends this long after sign-in.")
    sign_out_check_seconds: float = Field(
        5, ge=0, le=300, description="How long a replica trusts that a person has not signed out on another one."
    )
    api_timeout_seconds: float = Field(10, gt=0, le=120)
    agenda_refresh_seconds: int = Field(3, ge=1, le=300, description="How often an open agenda asks for changes.")
    log_level: str = "INFO"

    def fernet_key(self) -> bytes:
        """The key, checked: a placeholder or a malformed key stops the console with a message."""
        key = self._key()
        try:
            Fernet(key)
        except ValueError as exc:
            raise ValueError(
                "BATON_CONSOLE_SECRET (or BATON_CONSOLE_SECRET_FILE) is not a Fernet key: 32 random bytes in "
                "url-safe base64, e.g. python3 -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'"
            ) from exc
        return key

    def _key(self) -> bytes:
        """The key from the setting, the file, or (a local run) ``<data_dir>/console.secret``, made once."""
        if self.secret:
            return self.secret.strip().encode()
        if self.secret_file:
            return self.secret_file.read_text(encoding="utf-8").strip().encode()
        path = self.data_dir / "console.secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                return path.read_text(encoding="utf-8").strip().encode()
            with os.fdopen(fd, "w") as f:
                f.write(Fernet.generate_key().decode() + "\n")
        return path.read_text(encoding="utf-8").strip().encode()
