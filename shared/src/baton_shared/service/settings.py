"""Settings, all from ``BATON_`` environment variables, defaulting to the embedded run."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_PORTS = {"intake": 8001, "delivery": 8002, "followup": 8003}


class BatonSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BATON_", extra="ignore")

    nats_url: str = Field(
        "nats://127.0.0.1:14222",
        description="NATS server(s), comma-separated. The embedded run starts one on 14222.",
    )
    nats_user: str | None = None
    nats_password: str | None = None
    data_dir: Path = Field(Path("var"), description="Folder for the embedded run's data.")
    database_url: str | None = Field(
        None,
        description="SQLAlchemy async URL of this service's projections; "
        "default sqlite+aiosqlite:///<data_dir>/<service>.sqlite3",
    )
    http_host: str = "127.0.0.1"
    http_port: int | None = Field(None, description="default 8001 intake, 8002 delivery, 8003 followup")
    stream_replicas: int = Field(1, ge=1, le=5)
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
        50, ge=0, le=1000,
        description="Projections of another service's stream, while events keep coming, gather them for up to "
        "this long and commit them together (0: one batch per delivery). The service's own projections, "
        "which its reads wait on, never linger.",
    )
    database_timeout_seconds: float = Field(
        30, gt=0, le=3600,
        description="PostgreSQL: how long a service waits for one statement (and a third of it, at most 10 s, "
        "for a connection) before giving up: reads answer 503, projections retry. A database that stops "
        "answering without closing connections would otherwise hold requests until TCP gives up.",
    )
    sqlite_statements: str = Field(
        "loop", pattern="^(auto|loop|thread)$",
        description="SQLite projections: where statements run. 'loop': on the event loop's thread (least CPU "
        "and latency when the services share a box, as in the embedded run); 'thread': one hop to the "
        "connection's thread each (more writes per process when it has a core to itself); 'auto': 'thread' "
        "while the machine has more than half a core idle, 'loop' otherwise. See docs/architecture.md, Performance.",
    )
    max_body_bytes: int = Field(
        65_536, ge=1024, le=16 * 1024 * 1024, description="Largest request body a write accepts (413 above)"
    )
    overdue_check_seconds: float = Field(60, gt=0, le=86_400, description="delivery: how often overdue work is looked for")
    tokens_file: Path | None = Field(
        None, description="JSON file of API tokens (name, role, department, sha256); see baton_shared.service.access"
    )
    tokens: str | None = Field(None, description="API tokens as inline JSON, same format as the file (compose)")
    master_key: str | None = Field(
        None,
        description="intake: base64 of 32 bytes wrapping the per-client data keys (baton_shared.privacy); "
        "unset: <data_dir>/master.key, generated on first start (embedded run, tests)",
        repr=False,
    )
    log_level: str = "INFO"
    log_format: str = Field("json", pattern="^(json|console)$")
    forgotten_dir: Path | None = Field(
        None,
        description="intake and `baton import`: the record of forgotten clients (baton_shared.forgotten), kept and "
        "backed up apart from the broker's store; unset: <data_dir>/forgotten",
    )

    def database_url_for(self, service: str) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / f'{service}.sqlite3'}"

    def forgotten_folder(self) -> Path:
        return self.forgotten_dir or self.data_dir / "forgotten"

    def port_for(self, service: str) -> int:
        return self.http_port or DEFAULT_PORTS[service]
