"""The record of forgotten clients (issue 17, a backup must never undo forgetting): its files,
the vault writing it before a key is destroyed, and ``ClientForgotten`` appended again."""

from datetime import UTC, datetime

import pytest
from baton_intake.application import IntakeApplication, RegisterClient
from baton_shared.contracts import intake as ev
from baton_shared.contracts import registry
from baton_shared.contracts.streams import stream_for
from baton_shared.eventstore.memory import InMemoryEventStore
from baton_shared.forgotten import ForgottenClients, record_in_log
from baton_shared.privacy import MemoryKeyStore, PersonalDataVault

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
PERSON = ev.Contact(name="Zelda Quixote", role="owner", email="zelda@example.com", phone="+44 20 7946 0999")


async def test_the_record_is_one_file_per_client_and_reads_back(tmp_path):
    record = ForgottenClients(tmp_path / "forgotten")
    assert await record.read() == set()  # no folder yet: an empty record
    await record.add("c1")
    await record.add("c1")  # again: nothing changes
    await record.add("c2")
    (tmp_path / "forgotten" / ".c3.abcd.tmp").write_text("{")  # a write that never finished
    (tmp_path / "forgotten" / "not a client id").write_text("x")
    assert sorted(p.name for p in (tmp_path / "forgotten").iterdir() if not p.name.startswith(".")) == [
        "c1",
        "c2",
        "not a client id",
    ]
    assert await ForgottenClients(tmp_path / "forgotten").read() == {"c1", "c2"}
    assert "Zelda" not in "".join(p.read_text() for p in (tmp_path / "forgotten").iterdir())
    with pytest.raises(ValueError):
        await record.add("../escape")


async def test_a_forget_is_recorded_before_the_key_is_destroyed(tmp_path):
    keys = MemoryKeyStore()
    (tmp_path / "a-file").write_text("")
    unwritable = PersonalDataVault(keys, forgotten=ForgottenClients(tmp_path / "a-file" / "forgotten"))
    sealed = await unwritable.seal("c1", "contacts", [PERSON.model_dump()])
    with pytest.raises(OSError):
        await unwritable.forget("c1")
    assert await keys.get("c1") is not None  # not recorded, so not destroyed: asking again can finish it

    vault = PersonalDataVault(keys, forgotten=ForgottenClients(tmp_path / "forgotten"))
    assert await keys.held({"c1", "c2"}) == {"c1"}
    assert await vault.forget("c1") is True
    assert await keys.held({"c1", "c2"}) == set()
    assert (tmp_path / "forgotten" / "c1").is_file() and await keys.get("c1") is None
    assert await vault.open("contacts", sealed) is None


async def test_a_recorded_client_never_opens_even_with_its_key_back(tmp_path):
    keys = MemoryKeyStore()
    sealed = await PersonalDataVault(keys).seal("c1", "contacts", [PERSON.model_dump()])
    await ForgottenClients(tmp_path / "forgotten").add("c1")  # recorded, but the key is back (a restored store)
    record = ForgottenClients(tmp_path / "forgotten")
    await record.read()
    assert await PersonalDataVault(keys, forgotten=record).open("contacts", sealed) is None
    assert await PersonalDataVault(keys).open("contacts", sealed) == [PERSON.model_dump()]


async def test_client_forgotten_is_appended_again_once_and_only_to_a_known_client():
    store = InMemoryEventStore(stream_for("intake"), registry)
    app = IntakeApplication(store, clock=lambda: NOW)
    cid = (
        await app.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="a", contacts=(PERSON,)))
    ).ids["client_id"]
    assert await record_in_log(store, cid) is True
    assert await record_in_log(store, cid) is False
    assert await record_in_log(store, "6b1f0000-0000-4000-8000-000000000000") is False
    events = (await store.history("client", cid)).events
    assert [e.envelope.event_type for e in events] == ["ClientRegistered", "ClientForgotten"]
    assert events[-1].envelope.actor == "record-of-forgotten-clients" and events[-1].envelope.correlation_id == cid
