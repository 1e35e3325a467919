"""Crypto-shredding (issue 7): sealing, opening, forgetting, old plaintext events, the projections' folds."""

import threading
from datetime import datetime, timezone

import pytest

from baton_shared.contracts import intake as ev
from baton_shared.contracts import registry
from baton_shared.contracts.streams import stream_for
from baton_shared.events.envelope import Envelope, RecordedEvent
from baton_shared.eventstore.memory import InMemoryEventStore
from baton_shared.privacy import KeyUnavailable, MasterKey, MemoryKeyStore, PersonalDataVault, load_master_key
from baton_intake.application import ForgetClient, IntakeApplication, RegisterClient
from baton_intake.projections.clients import fold

NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
PERSON = ev.Contact(name="Zelda Quixote", role="owner", email="zelda@example.com", phone="+44 20 7946 0999")


async def test_sealed_data_opens_until_the_key_is_forgotten():
    vault = PersonalDataVault(MemoryKeyStore())
    sealed = await vault.seal("c1", "contacts", [PERSON.model_dump()])
    assert "Zelda" not in sealed.model_dump_json()
    assert await vault.open("contacts", sealed) == [PERSON.model_dump()]
    with pytest.raises(Exception):  # noqa: B017 - bound to its purpose: no opening it as something else
        await vault.open("notes", sealed)
    await vault.forget("c1")
    assert await vault.open("contacts", sealed) is None
    assert await vault.open("contacts", sealed.model_dump()) is None  # as a projection stores it


def test_the_master_key_wraps_data_keys_and_refuses_another_master(tmp_path):
    master = load_master_key(None, tmp_path)
    assert load_master_key(None, tmp_path).fingerprint == master.fingerprint  # generated once, then kept
    assert (tmp_path / "master.key").stat().st_mode & 0o777 == 0o600
    stored = master.wrap("c1", b"k" * 32)
    assert master.unwrap("c1", stored) == b"k" * 32
    with pytest.raises(KeyUnavailable, match="BATON_MASTER_KEY"):
        MasterKey.from_base64(MasterKey.generate_text()).unwrap("c1", stored)
    with pytest.raises(KeyUnavailable):
        master.unwrap("c2", stored)  # a key is bound to its client
    assert load_master_key(MasterKey.generate_text(), tmp_path).fingerprint != master.fingerprint


async def test_the_application_seals_contacts_and_forgets_once():
    store = InMemoryEventStore(stream_for("intake"), registry)
    vault = PersonalDataVault(MemoryKeyStore())
    app = IntakeApplication(store, clock=lambda: NOW, vault=vault)
    cid = (
        await app.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="a", contacts=(PERSON,)))
    ).ids["client_id"]
    history = await store.history("client", cid)
    registered = history.events[0].event
    assert registered.legacy_contacts == () and "Zelda" not in history.events[0].envelope.model_dump_json()
    assert await vault.open(ev.CONTACTS_PURPOSE, registered.sealed_contacts) == [PERSON.model_dump()]
    assert (await app.forget_client(ForgetClient(client_id=cid))).appended == 1
    assert (await app.forget_client(ForgetClient(client_id=cid))).appended == 0
    assert await vault.open(ev.CONTACTS_PURPOSE, registered.sealed_contacts) is None
    assert [e.envelope.event_type for e in (await store.history("client", cid)).events] == [
        "ClientRegistered",
        "ClientForgotten",
    ]


def _recorded(event_type: str, version: int, payload: dict, seq: int) -> RecordedEvent:
    envelope = Envelope(
        event_id=f"e{seq}",
        event_type=event_type,
        schema_version=version,
        aggregate_type="client",
        aggregate_id="c1",
        occurred_at=NOW,
        correlation_id="c1",
        actor="t",
        payload=payload,
    )
    return RecordedEvent("INTAKE", seq, f"intake.client.c1.{event_type}", envelope, registry.payload_of(envelope))


def test_a_v1_event_with_plaintext_contacts_still_loads_and_forgetting_blanks_the_row():
    v1 = {
        "client_id": "c1",
        "name": "Acme",
        "segment": "B2B",
        "account_manager": "a",
        "contacts": [PERSON.model_dump()],
    }
    registered = _recorded("ClientRegistered", 1, v1, 1)
    assert registered.event.legacy_contacts == (PERSON,) and registered.event.sealed_contacts is None
    row = fold(None, registered)
    assert row["contacts"] == [PERSON.model_dump()] and row["personal_data_erased_at"] is None
    row = fold(row, _recorded("ClientForgotten", 1, {"client_id": "c1"}, 2))
    assert row["contacts"] == [] and row["personal_data_erased_at"] == NOW and row["name"] == "Acme"


def test_services_starting_together_all_read_the_one_whole_master_key(tmp_path):
    def one(folder, start, keys, errors) -> None:  # noqa: ANN001
        start.wait()
        try:
            keys.append(load_master_key(None, folder).fingerprint)
        except Exception as exc:  # noqa: BLE001 - what a service would die of
            errors.append(exc)

    for attempt in range(20):
        folder, start, keys, errors = tmp_path / f"start-{attempt}", threading.Barrier(8), [], []
        threads = [threading.Thread(target=one, args=(folder, start, keys, errors)) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        assert len(set(keys)) == 1
        assert sorted(p.name for p in folder.iterdir()) == ["master.key"]
