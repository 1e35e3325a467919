"""Webhooks end to end: intake's events to a real receiver on loopback, through a real NATS.

Once each, in order, signed so that a standard verifier accepts; a receiver answering 500 for a
while; retries running out (parked, paused) and resuming; pause, replay by position and by time;
notify stopped mid-delivery; news of new events reaching a caught-up webhook, also after its
watcher was lost; the address guard; bad input and access.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import datetime, timezone

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager

from baton_shared.service.settings import BatonSettings
from baton_notify.domain.signing import signature
from tests.conftest import free_port
from tests.integration.services import ADMIN, TOKENS, bearer, eventually

pytestmark = pytest.mark.nats

INTEGRATION = {"name": "billing", "role": "integration", "token": "test-billing-token-00000"}
OTHER_INTEGRATION = {"name": "crm", "role": "integration", "token": "test-crm-token-0000000000"}
ALL_TOKENS = json.dumps([*TOKENS.values(), INTEGRATION, OTHER_INTEGRATION])
FAST = {
    "webhooks_poll_seconds": 0.05,
    "webhooks_backoff_first_seconds": 0.05,
    "webhooks_backoff_max_seconds": 0.2,
    "webhooks_recheck_seconds": 600,  # a caught-up webhook hears of new events, or the tests time out
}


class Receiver:
    """A small HTTP server recording what it is sent; ``answer`` decides each status."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.seen: list[dict] = []  # every request, acknowledged or not
        self.answer = lambda n, event_id: 200
        self.hold: asyncio.Event | None = None  # while set to an unset event, requests wait
        self.held = 0  # requests waiting on ``hold`` now

    @property
    def acknowledged(self) -> list[dict]:
        return [r for r in self.seen if r["status"] == 200]

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        if self.hold is not None:
            self.held += 1
            try:
                await self.hold.wait()
            finally:
                self.held -= 1
        status = self.answer(len(self.seen), headers.get("webhook-id"))
        self.seen.append({"headers": headers, "body": body, "status": status, "id": headers.get("webhook-id")})
        await send({"type": "http.response.start", "status": status, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"ok"})


@contextlib.asynccontextmanager
async def receiving():
    receiver = Receiver()
    server = uvicorn.Server(
        uvicorn.Config(receiver, host="127.0.0.1", port=receiver.port, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    await eventually(lambda: _true(server.started), what="receiver started")
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task


async def _true(value):
    return value


@contextlib.asynccontextmanager
async def notify_app(nats_url, tmp_path, database_url=None, **settings):
    async with notify_running(nats_url, tmp_path, database_url, **settings) as app:
        async with client_of(app) as c:
            yield c


def client_of(app) -> httpx.AsyncClient:  # noqa: ANN001
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://notify", headers=ADMIN)


@contextlib.asynccontextmanager
async def notify_running(nats_url, tmp_path, database_url=None, **settings):
    from baton_notify.composition import create_app
    from baton_notify.settings import NotifySettings

    options = {"webhooks_allow_private": True, **FAST, **settings}
    app = create_app(
        NotifySettings(
            nats_url=nats_url,
            data_dir=tmp_path,
            read_wait_timeout_seconds=5,
            log_level="WARNING",
            tokens=ALL_TOKENS,
            database_url=database_url or f"sqlite+aiosqlite:///{tmp_path / 'notify.sqlite3'}",
            **options,
        )
    )
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        yield app


@contextlib.asynccontextmanager
async def intake_app(nats_url, tmp_path):
    from baton_intake.composition import create_app

    app = create_app(
        BatonSettings(
            nats_url=nats_url,
            data_dir=tmp_path,
            read_wait_timeout_seconds=5,
            log_level="WARNING",
            tokens=ALL_TOKENS,
            database_url=f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}",
        )
    )
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=ADMIN
        ) as c:
            yield c


async def register(intake, n: int, start: int = 0) -> list[str]:
    ids = []
    for i in range(start, start + n):
        r = await intake.post("/v1/clients", json={"name": f"Client {i}", "segment": "B2B", "account_manager": "alice"})
        assert r.status_code == 201, r.text
        ids.append(r.json()["ids"]["client_id"])
    return ids


async def subscribe(notify, url: str, headers=None, **extra) -> dict:
    r = await notify.post(
        "/v1/webhooks", json={"url": url, "event_types": ["ClientRegistered"], **extra}, headers=headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    await _projected(notify, body["ids"]["webhook_id"], body["position"]["seq"])
    return body


async def _projected(notify, webhook_id: str, seq: int) -> dict:
    r = await notify.get(f"/v1/webhooks/{webhook_id}", params={"min_position": seq})
    assert r.status_code == 200, r.text
    return r.json()


def client_ids(requests: list[dict]) -> list[str]:
    return [json.loads(r["body"])["data"]["client_id"] for r in requests]


def verify(secret: str, request: dict) -> None:
    """The signature checks, with the standard verifier when installed, else by the spec's formula."""
    try:
        import standardwebhooks
    except ImportError:
        h = request["headers"]
        assert (
            signature(secret, h["webhook-id"], int(h["webhook-timestamp"]), request["body"]) == h["webhook-signature"]
        )
        return
    standardwebhooks.Webhook(secret).verify(request["body"], request["headers"])


@pytest.fixture
async def running(nats, nats_url, tmp_path):
    async with (
        receiving() as receiver,
        intake_app(nats_url, tmp_path) as intake,
        notify_app(nats_url, tmp_path) as notify,
    ):
        yield receiver, intake, notify


async def test_once_each_in_order_signed(running):
    receiver, intake, notify = running
    await register(intake, 2)  # before the subscription: not sent
    created = await subscribe(notify, receiver.url)
    secret = created["secret"]
    assert secret.startswith("whsec_")
    ids = await register(intake, 20)
    await eventually(lambda: _true(len(receiver.acknowledged) >= 20), what="20 deliveries")
    assert client_ids(receiver.seen) == ids  # once each, in log order, nothing from before
    bodies = [json.loads(r["body"]) for r in receiver.seen]
    assert [r["id"] for r in receiver.seen] == [b["id"] for b in bodies]  # the event id is the webhook-id
    assert [b["position"] for b in bodies] == sorted(b["position"] for b in bodies)
    for request in receiver.seen:
        verify(secret, request)
    shown = (await notify.get(f"/v1/webhooks/{created['ids']['webhook_id']}")).json()
    assert "secret" not in json.dumps(shown) and "whsec_" not in json.dumps(shown)  # shown once only
    status = await caught_up(notify, created["ids"]["webhook_id"])  # on record within CURSOR_SECONDS
    [intake_stream] = status["streams"]
    assert intake_stream["delivered"] == 20 and status["parked"] == []


async def test_a_caught_up_webhook_hears_of_each_new_event_even_after_its_consumers_were_lost(running, nats):
    receiver, intake, notify = running
    webhook_id = (await subscribe(notify, receiver.url))["ids"]["webhook_id"]
    for n in range(1, 4):  # caught up each time: only the news wakes it (recheck is 10 minutes)
        await register(intake, 1, start=n)
        await eventually(lambda n=n: _true(len(receiver.acknowledged) >= n), timeout=5, what=f"delivery {n}")
    watchers = [c async for c in _headers_only_consumers(nats, "INTAKE")]
    assert len(watchers) == 1  # one watcher per stream, its filter the wanted types
    assert watchers[0].config.filter_subjects == ["intake.*.*.ClientRegistered"]
    await nats.jsm().delete_consumer("INTAKE", watchers[0].name)  # lost: a restart, an expiry

    async def watched_again():
        names = [c.name async for c in _headers_only_consumers(nats, "INTAKE")]
        return len(names) == 1 and names != [watchers[0].name]

    await eventually(watched_again, timeout=10, what="a new watcher")
    await register(intake, 2, start=10)
    await eventually(lambda: _true(len(receiver.acknowledged) >= 5), timeout=5, what="deliveries after the loss")
    # The consumer the webhook reads through, lost too: made again from the last event read.
    await caught_up(notify, webhook_id)  # positions on record: nothing but news wakes it now
    [reader] = [
        c
        for c in await nats.jsm().consumers_info("INTAKE")
        if not c.config.headers_only and c.config.filter_subjects == ["intake.*.*.ClientRegistered"]
    ]
    await nats.jsm().delete_consumer("INTAKE", reader.name)
    await register(intake, 1, start=20)  # its news is the only one: the look after it must recover
    await eventually(lambda: _true(len(receiver.acknowledged) >= 6), timeout=10, what="a delivery after that")
    await asyncio.sleep(0.3)  # anything sent twice would have arrived by now
    assert len(receiver.acknowledged) == 6 and len({r["id"] for r in receiver.acknowledged}) == 6


async def _headers_only_consumers(nc, stream: str):
    for info in await nc.jsm().consumers_info(stream):
        if info.config.headers_only:
            yield info


async def test_a_receiver_failing_for_a_while_gets_everything_after_in_order(running):
    receiver, intake, notify = running
    receiver.answer = lambda n, event_id: 500 if n < 8 else 200
    created = await subscribe(notify, receiver.url)
    ids = await register(intake, 6)
    await eventually(lambda: _true(len(receiver.acknowledged) >= 6), what="6 deliveries after recovery")
    assert client_ids(receiver.acknowledged) == ids
    assert len(receiver.seen) >= 8 + 6
    assert all(r["id"] == receiver.seen[0]["id"] for r in receiver.seen[:9])  # the first retried, nothing overtook it
    status = (await notify.get(f"/v1/webhooks/{created['ids']['webhook_id']}/deliveries")).json()
    assert status["streams"][0]["last_error"] == "HTTP 500" and status["streams"][0]["attempts"] == 0


async def test_retries_running_out_park_and_pause_then_resume_sends_the_rest(nats, nats_url, tmp_path):
    async with (
        receiving() as receiver,
        intake_app(nats_url, tmp_path) as intake,
        notify_app(nats_url, tmp_path, webhooks_retry_for_seconds=0.5) as notify,
    ):
        receiver.answer = lambda n, event_id: 503
        created = await subscribe(notify, receiver.url)
        webhook_id = created["ids"]["webhook_id"]
        ids = await register(intake, 3)

        async def paused():
            shown = (await notify.get(f"/v1/webhooks/{webhook_id}")).json()
            return shown["status"] == "paused" and shown

        await eventually(paused, what="paused after retries ran out")
        status = (await notify.get(f"/v1/webhooks/{webhook_id}/deliveries")).json()
        [parked] = status["parked"]
        assert parked["event_id"] == receiver.seen[0]["id"] and parked["error"] == "HTTP 503"
        assert status["streams"][0]["lag"] >= 3
        shown = await baton_webhooks(nats_url, tmp_path, "show", webhook_id, "--json")
        assert shown["status"] == "paused" and shown["parked"][0]["event_id"] == parked["event_id"]
        assert shown["streams"][0]["lag"] >= 3 and shown["streams"][0]["last_error"] == "HTTP 503"
        assert "secret" not in json.dumps(shown)
        receiver.answer = lambda n, event_id: 200
        r = await notify.post(f"/v1/webhooks/{webhook_id}/resume")
        assert r.status_code == 200, r.text
        await eventually(lambda: _true(len(receiver.acknowledged) >= 3), what="the rest after resuming")
        assert client_ids(receiver.acknowledged) == ids
        assert (await caught_up(notify, webhook_id))["parked"] == []


async def baton_webhooks(nats_url, tmp_path, *args: str):
    """``baton webhooks …`` (the ops CLI) on notify's database, its JSON answer."""
    from typer.testing import CliRunner

    from baton_ops.cli import app

    env = {
        "BATON_NATS_URL": nats_url,
        "BATON_NOTIFY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'notify.sqlite3'}",
    }
    result = await asyncio.to_thread(CliRunner().invoke, app, ["webhooks", *args], env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


async def test_pause_resume_and_replay_by_position_and_time(running):
    receiver, intake, notify = running
    created = await subscribe(notify, receiver.url)
    webhook_id = created["ids"]["webhook_id"]
    first = await register(intake, 2)
    await eventually(lambda: _true(len(receiver.acknowledged) >= 2), what="2 deliveries")
    r = await notify.post(f"/v1/webhooks/{webhook_id}/pause")
    assert r.status_code == 200
    await _projected(notify, webhook_id, r.json()["position"]["seq"])
    assert (await notify.get(f"/v1/webhooks/{webhook_id}")).json()["status"] == "paused"
    later = await register(intake, 2, start=2)
    lagging = await eventually(lambda: _lag(notify, webhook_id, 2), what="lag of the paused webhook")
    assert lagging and client_ids(receiver.acknowledged) == first  # nothing sent while paused
    r = await notify.post(f"/v1/webhooks/{webhook_id}/resume")
    assert r.status_code == 200
    await eventually(lambda: _true(len(receiver.acknowledged) >= 4), what="the rest after resume")
    assert client_ids(receiver.acknowledged) == first + later

    # Replay from a position: everything after it again, with the same event ids.
    position = json.loads(receiver.acknowledged[1]["body"])["position"]  # the second event
    before = [r["id"] for r in receiver.acknowledged]
    r = await notify.post(f"/v1/webhooks/{webhook_id}/replay", json={"positions": {"INTAKE": position}})
    assert r.status_code == 200, r.text
    await eventually(lambda: _true(len(receiver.acknowledged) >= 6), what="replay by position")
    assert [r["id"] for r in receiver.acknowledged[4:]] == before[2:]

    # Replay from a time: every wanted event stored since then.
    r = await notify.post(f"/v1/webhooks/{webhook_id}/replay", json={"since": "2000-01-01T00:00:00Z"})
    assert r.status_code == 200, r.text
    await eventually(lambda: _true(len(receiver.acknowledged) >= 10), what="replay by time")
    assert [r["id"] for r in receiver.acknowledged[6:]] == before


async def _lag(notify, webhook_id: str, lag: int):
    status = (await notify.get(f"/v1/webhooks/{webhook_id}/deliveries")).json()
    return status["streams"] and status["streams"][0]["lag"] == lag


async def test_notify_stopped_mid_delivery_sends_again_only_with_the_same_event_id(nats, nats_url, tmp_path):
    async with receiving() as receiver, intake_app(nats_url, tmp_path) as intake:
        async with notify_app(nats_url, tmp_path) as notify:
            created = await subscribe(notify, receiver.url)
            webhook_id = created["ids"]["webhook_id"]
            ids = await register(intake, 3)
            await eventually(lambda: _true(len(receiver.acknowledged) >= 3), what="3 deliveries")
            receiver.hold = asyncio.Event()  # the next request hangs: notify is stopped in the middle of it
            ids += await register(intake, 1, start=3)
            await asyncio.wait_for(_request_arrived(receiver), 15)
        held = receiver.hold
        receiver.hold = None
        held.set()  # the hung request answers now, to nobody
        async with notify_app(nats_url, tmp_path) as notify:
            ids += await register(intake, 2, start=4)
            await eventually(
                lambda: _true(len(set(client_ids(receiver.acknowledged))) >= 6), what="all after a restart"
            )
            await caught_up(notify, webhook_id)
    seen_ids = [r["id"] for r in receiver.acknowledged]
    # The first three were acknowledged once and never sent again; only the interrupted one may repeat.
    assert seen_ids[:3] == list(dict.fromkeys(seen_ids))[:3] and len(set(seen_ids[:3])) == 3
    assert all(seen_ids.count(i) == 1 for i in seen_ids[:3])
    assert list(dict.fromkeys(client_ids(receiver.acknowledged))) == ids


async def caught_up(notify, webhook_id: str) -> dict:
    """The delivery status once every stream's lag is 0 (positions are written within 0.25 s)."""

    async def status():
        body = (await notify.get(f"/v1/webhooks/{webhook_id}/deliveries")).json()
        return body if all(s["lag"] == 0 for s in body["streams"]) else None

    return await eventually(status, timeout=5, what="lag 0")


async def _request_arrived(receiver: Receiver) -> None:
    while not receiver.held:
        await asyncio.sleep(0.02)


async def test_loopback_refused_by_default(nats, nats_url, tmp_path):
    async with notify_app(nats_url, tmp_path, webhooks_allow_private=False) as notify:
        for url in (
            "http://127.0.0.1:9/hook",
            "http://localhost:9/hook",
            "http://10.0.0.1/hook",
            "http://169.254.169.254/",
        ):
            r = await notify.post("/v1/webhooks", json={"url": url, "event_types": ["ClientRegistered"]})
            assert r.status_code == 409, r.text  # a rule of the deployment, not the URL's form
            assert r.headers["content-type"].startswith("application/problem+json")
            assert "internal address" in r.json()["detail"]
        assert (await notify.get("/v1/webhooks")).json()["total"] == 0  # nothing was made


async def test_bad_input_and_access(running):
    receiver, intake, notify = running
    cases = [
        {"url": receiver.url, "event_types": ["NoSuchEvent"]},
        {"url": receiver.url, "event_types": []},
        {"url": "ftp://example.com/x", "event_types": ["ClientRegistered"]},
        {"url": receiver.url, "event_types": ["ClientRegistered"], "client_id": "not-a-uuid"},
        {"url": receiver.url, "event_types": ["ClientRegistered"], "extra": 1},
        {"event_types": ["ClientRegistered"]},
    ]
    for body in cases:
        r = await notify.post("/v1/webhooks", json=body)
        assert r.status_code == 422, (body, r.text)
    assert (await notify.get("/v1/webhooks")).json()["total"] == 0
    assert (await notify.get("/v1/webhooks/nope")).status_code == 404
    assert (await notify.post("/v1/webhooks/00000000-0000-0000-0000-000000000000/pause")).status_code == 404
    mine = await subscribe(notify, receiver.url, headers=bearer_of(INTEGRATION))
    admins = await subscribe(notify, receiver.url)
    r = await notify.post(f"/v1/webhooks/{admins['ids']['webhook_id']}/replay", json={})
    assert r.status_code == 422
    r = await notify.post(f"/v1/webhooks/{admins['ids']['webhook_id']}/replay", json={"positions": {"INTAKE": -1}})
    assert r.status_code == 422
    as_billing = bearer_of(INTEGRATION)
    listed = (await notify.get("/v1/webhooks", headers=as_billing)).json()
    assert [w["webhook_id"] for w in listed["items"]] == [mine["ids"]["webhook_id"]]
    assert (await notify.get(f"/v1/webhooks/{admins['ids']['webhook_id']}", headers=as_billing)).status_code == 403
    r = await notify.post(f"/v1/webhooks/{mine['ids']['webhook_id']}/pause", headers=bearer_of(OTHER_INTEGRATION))
    assert r.status_code == 403
    r = await notify.post(f"/v1/webhooks/{mine['ids']['webhook_id']}/rotate-secret", headers=as_billing)
    assert r.status_code == 200 and r.json()["secret"] != mine["secret"]
    assert (await notify.get("/v1/webhooks", headers=bearer("ops"))).json()["total"] == 2
    r = await notify.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["ClientRegistered"]}, headers=bearer("ops")
    )
    assert r.status_code == 403
    r = await notify.post(
        "/v1/webhooks", json={"url": receiver.url, "event_types": ["ClientRegistered"]}, headers=bearer("alice")
    )
    assert r.status_code == 403
    r = await notify.delete(f"/v1/webhooks/{mine['ids']['webhook_id']}", headers=as_billing)
    assert r.status_code == 200
    r = await notify.post(f"/v1/webhooks/{mine['ids']['webhook_id']}/resume", headers=as_billing)
    assert r.status_code in (404, 409)


def bearer_of(entry: dict) -> dict[str, str]:
    return {"Authorization": f"Bearer {entry['token']}"}


def _now() -> datetime:
    return datetime.now(timezone.utc)


async def test_the_openapi_document_holds_under_all_of_schemathesis_checks(nats, nats_url, tmp_path):
    """notify's document, fuzzed like the other services' (tests/integration/test_fuzz.py), with the
    address guard on: generated URLs must be refused with a 422, never tried."""
    from tests.integration.test_fuzz import config_file, schemathesis_command, serve

    command = schemathesis_command()
    async with receiving() as receiver, notify_running(nats_url, tmp_path) as app, client_of(app) as notify:
        seeded = await subscribe(notify, receiver.url)
        app.state.settings.webhooks_allow_private = False  # the fuzzer's URLs meet the guard
        known = {"webhook_id": [seeded["ids"]["webhook_id"]]}
        server, task, port = await serve(app)
        try:
            process = await asyncio.create_subprocess_exec(
                command,
                "--config-file",
                str(config_file(tmp_path / "schemathesis.toml", known)),
                "run",
                f"http://127.0.0.1:{port}/openapi.json",
                "--checks",
                "all",
                "--workers",
                "1",
                "--no-shrink",
                "--header",
                f"Authorization: Bearer {TOKENS['admin']['token']}",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                cwd=tmp_path,
                env={**__import__("os").environ, "NO_COLOR": "1"},
            )
            output, _ = await process.communicate()
        finally:
            server.should_exit = True
            await task
        text = output.decode("utf-8", "replace")
        assert process.returncode == 0, text[-20000:]


async def test_a_retried_subscribe_answers_the_same_webhook_and_secret(running):
    receiver, intake, notify = running
    key = {"Idempotency-Key": "subscribe-billing-0001"}
    body = {"url": receiver.url, "event_types": ["ClientRegistered"]}
    first = await notify.post("/v1/webhooks", json=body, headers=key)
    again = await notify.post("/v1/webhooks", json=body, headers=key)
    assert first.status_code == again.status_code == 201, again.text
    assert again.json()["ids"] == first.json()["ids"] and again.json()["secret"] == first.json()["secret"]
    await _projected(notify, first.json()["ids"]["webhook_id"], first.json()["position"]["seq"])
    assert (await notify.get("/v1/webhooks")).json()["total"] == 1
