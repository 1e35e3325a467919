"""Settings, all from ``BATON_`` environment variables, defaulting to the embedded run.

Secrets (the NATS and database passwords, a database URL's password, the API tokens, the
master key) are ``SecretStr``: printed, logged or shown in a settings repr they read
``**********``. Each can also come from a file, ``BATON_<NAME>_FILE`` (compose mounts its
``secrets:`` there), so it is not a plain value in the container's environment. The
placeholders of ``deploy/.env.example`` (``change-me-…``) are refused at start.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url

DEFAULT_PORTS = {"intake": 8001, "delivery": 8002, "followup": 8003, "notify": 8004}


PLACEHOLDER = "change-me"  # how every secret in deploy/.env.example starts
FROM_FILES = ("nats_password", "database_password", "master_key")  # BATON_<NAME>_FILE; tokens: BATON_TOKENS_FILE


class SecretSettingError(Exception):
    """A secret setting cannot be used; the message names the variable, never the value (not a
    ValueError: pydantic would wrap it in an error that quotes the inputs, secrets included)."""


def refuse_placeholder(variable: str, value: str | None) -> None:
    if value is not None and value.strip().lower().startswith(PLACEHOLDER):
        raise SecretSettingError(
            f"{variable} is still the placeholder from deploy/.env.example ({PLACEHOLDER}-…): "
            "set a real secret in deploy/.env (e.g. `openssl rand -hex 24`)"
        )


def read_secret_file(variable: str, path: Path) -> str:
    """A secret file's content without the trailing newline; a clear error if it cannot be used."""
    try:
        text = Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SecretSettingError(f"{variable} {path}: cannot read it ({exc.strerror or exc})") from None
    if not text:
        raise SecretSettingError(f"{variable} {path} is empty")
    return text


def secret_value(secret: SecretStr | str | None) -> str | None:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def with_password(url: str, password: str | None) -> str:
    """``url`` with ``password`` put in (a URL that already has one keeps it if none is given)."""
    if not password:
        return url
    return make_url(url).set(password=password).render_as_string(hide_password=False)


def shown_url(url: str) -> str:
    """A connection URL (or a comma-separated list of them) fit for logs, /health and the
    AsyncAPI document: without its credentials."""
    out = []
    for one in url.split(","):
        scheme, sep, rest = one.strip().rpartition("://")
        out.append(f"{scheme}{sep}{rest.rpartition('@')[2]}")
    return ",".join(out)


def inbox_prefix(user: str) -> str:
    """The subject prefix of ``user``'s reply inboxes (``_INBOX_intake``). Each NATS user may
    subscribe only to its own (deploy/nats/permissions.conf), so no other user can read the
    replies it gets: pulled messages, direct gets, the clients' keys."""
    return f"_INBOX_{user}"


class BatonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore", hide_input_in_errors=True)

    nats_url: str = Field(
        "nats://127.0.0.1:14222",
        description="NATS server(s), comma-separated. The embedded run starts one on 14222.",
        repr=False,  # a URL may carry credentials; shown_url() gives it fit to show
    )
    nats_user: str | None = None
    nats_password: SecretStr | None = None
    nats_password_file: Path | None = Field(None, description="file holding the NATS password (compose secrets)")
    data_dir: Path = Field(Path("var"), description="Folder for the embedded run's data.")
    database_url: SecretStr | None = Field(
        None,
        description="SQLAlchemy URL of this service's projections (postgresql+asyncpg://… or "
        "sqlite:///…, which runs on Baton's own SQLite driver); default sqlite:///<data_dir>/<service>.sqlite3",
    )
    database_password: SecretStr | None = Field(
        None, description="password put into the database URL (compose: BATON_DATABASE_PASSWORD_FILE)"
    )
    database_password_file: Path | None = None
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(None, description="default 8001 intake, 8002 delivery, 8003 followup, 8004 notify")
    stream_replicas: int = Field(1, ge=1, le=5)
    reaction_partitions: int = Field(
        1,
        ge=1,
        le=16,
        description="Each reaction's causes split by target into this many partitions, shared out among the "
        "service's replicas, so replicas add throughput, not only availability (1: one replica handles a "
        "reaction at a time). Best a multiple of the replica count. See docs/architecture.md, Scale-out.",
    )
    migrate_on_start: bool = Field(
        True,
        description="Bring the database schema to this code's head at start-up (Alembic). "
        "False (compose): a one-shot `python -m baton_<service> migrate` does it and a service "
        "whose database is behind refuses to start.",
    )
    duplicate_window_seconds: float = Field(120, gt=0)
    read_wait_timeout_seconds: float = Field(
        5.0, ge=0, le=60, description="How long a read waits for its projection to reach a position."
    )
    projection_batch_size: int = Field(500, ge=1, le=10_000)
    foreign_projection_linger_ms: float = Field(
        50,
        ge=0,
        le=1000,
        description="Projections of another service's stream, while events keep coming, gather them for up to "
        "this long and commit them together (0: one batch per delivery). The service's own projections, "
        "which its reads wait on, never linger.",
    )
    database_timeout_seconds: float = Field(
        30,
        gt=0,
        le=3600,
        description="PostgreSQL: how long a service waits for one statement (and a third of it, at most 10 s, "
        "for a connection) before giving up: reads answer 503, projections retry. A database that stops "
        "answering without closing connections would otherwise hold requests until TCP gives up.",
    )
    sqlite_statements: str = Field(
        "loop",
        pattern="^(auto|loop|thread)$",
        description="SQLite projections: where statements run. 'loop': on the event loop's thread (least CPU "
        "and latency when the services share a box, as in the embedded run); 'thread': one hop to the "
        "connection's thread each (more writes per process when it has a core to itself); 'auto': 'thread' "
        "while the machine has more than half a core idle, 'loop' otherwise. See docs/architecture.md, Performance.",
    )
    max_body_bytes: int = Field(
        65_536, ge=1024, le=16 * 1024 * 1024, description="Largest request body a write accepts (413 above)"
    )
    overdue_check_seconds: float = Field(
        60, gt=0, le=86_400, description="delivery: how often overdue work is looked for"
    )
    head_grace_days: int = Field(
        3,
        ge=0,
        le=365,
        description="delivery: days past its due date before overdue work reaches the head of account management",
    )
    tokens_file: Path | None = Field(
        None, description="JSON file of API tokens (name, role, department, sha256); see baton_shared.service.access"
    )
    tokens: SecretStr | None = Field(None, description="API tokens as inline JSON, same format as the file")
    master_key: SecretStr | None = Field(
        None,
        description="intake: base64 of 32 bytes wrapping the per-client data keys (baton_shared.privacy); "
        "unset: <data_dir>/master.key, generated on first start (embedded run, tests)",
    )
    master_key_file: Path | None = Field(None, description="file holding the master key (compose secrets)")
    log_level: str = "INFO"
    log_format: str = Field("json", pattern="^(json|console)$")
    forgotten_dir: Path | None = Field(
        None,
        description="intake and `baton import`: the record of forgotten clients (baton_shared.forgotten), kept and "
        "backed up apart from the broker's store; unset: <data_dir>/forgotten",
    )

    @model_validator(mode="after")
    def _read_and_check_secrets(self) -> BatonSettings:
        for name in FROM_FILES:
            path = getattr(self, f"{name}_file")
            if path is None:
                continue
            variable = f"BATON_{name.upper()}"
            if getattr(self, name) is not None:
                raise SecretSettingError(f"set {variable} or {variable}_FILE, not both")
            setattr(self, name, SecretStr(read_secret_file(f"{variable}_FILE", path)))
            setattr(self, f"{name}_file", None)  # read: a copy of these settings carries the value only
        for name in (*FROM_FILES, "tokens"):
            refuse_placeholder(f"BATON_{name.upper()}", secret_value(getattr(self, name)))
        if self.database_url is not None:
            url = make_url(self.database_url.get_secret_value())
            refuse_placeholder("the password in BATON_DATABASE_URL", url.password)
        return self

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return with_password(self.database_url.get_secret_value(), secret_value(self.database_password))
        return f"sqlite:///{self.data_dir / f'{service}.sqlite3'}"

    def forgotten_folder(self) -> Path:
        return self.forgotten_dir or self.data_dir / "forgotten"

    def port_for(self, service: str) -> int:
        return self.http_port or DEFAULT_PORTS[service]


def settings_or_exit(service: str) -> BatonSettings:
    """The settings from the environment, or one line saying what is wrong and exit status 2."""
    try:
        return BatonSettings()
    except (SecretSettingError, ValidationError) as exc:
        print(f"{service}: cannot start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
