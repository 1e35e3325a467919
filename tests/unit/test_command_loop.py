"""The command loop and the aggregates repository (baton_shared.application), against the in-memory
store: decided again after a conflict, decided again on a load after anything but an append decided
on a remembered history, and a keyed retry answered from the log."""

from dataclasses import replace
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from baton_shared.application import Aggregates, Command, CommandLoop
from baton_shared.contracts import STREAMS, registry
from baton_shared.contracts.intake import ClientNoteAdded
from baton_shared.domain import DomainRuleViolation
from baton_shared.eventstore.memory import InMemoryEventStore
from baton_shared.eventstore.port import AggregateHistory, ConcurrencyConflict, NewEvent
from baton_shared.idempotency import IdempotencyKeyReused, RequestKey, fingerprint
from baton_intake.domain import Client

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)
CLIENT = "7b0e1c3e-0000-4000-8000-000000000001"


class Remembering(InMemoryEventStore):
    """An in-memory store whose memory can be behind, like a replica's: ``remembered_history`` gives the
    history as it stood at ``remember()``, marked remembered; ``history`` gives the log."""

    def __init__(self) -> None:
        super().__init__(STREAMS["intake"], registry)
        self.memory: dict[tuple[str, str], AggregateHistory] = {}
        self.recalls = self.loads = 0

    async def remember(self, aggregate_type: str, aggregate_id: str) -> None:
        history = await super().history(aggregate_type, aggregate_id)
        self.memory[aggregate_type, aggregate_id] = replace(history, remembered=True)

    async def history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        self.loads += 1
        return await super().history(aggregate_type, aggregate_id)

    async def remembered_history(self, aggregate_type: str, aggregate_id: str) -> AggregateHistory:
        self.recalls += 1
        remembered = self.memory.get((aggregate_type, aggregate_id))
        return remembered if remembered is not None else await self.history(aggregate_type, aggregate_id)


@pytest.fixture
async def store():
    store = Remembering()
    client = Client.register(
        CLIENT,
        name="Acme",
        segment="B2B",
        account_manager="alice",
        sealed_contacts=None,
        business_description="",
        annual_revenue=Decimal(100),
        contact_policy=None,
    )
    await Aggregates(store).create(Client, CLIENT, Command(), lambda: client)
    return store


async def note(store, text: str = "x", actor: str = "t") -> None:
    """Another writer's note on the client (the remembered history falls behind)."""
    await Aggregates(store).update(Client, CLIENT, Command(actor=actor), lambda c: c.add_note(f"n-{text}", text, actor))


async def test_an_append_refused_for_a_conflict_is_decided_again_on_a_load(store):
    aggregates = Aggregates(store)
    real_append = store.append
    conflicts, raced = [], []

    async def someone_appends_first(*args):
        if not raced:
            raced.append(1)
            await note(store, "theirs")
        try:
            return await real_append(*args)
        except ConcurrencyConflict as exc:
            conflicts.append(exc)
            raise

    store.append = someone_appends_first
    written = await aggregates.update(Client, CLIENT, Command(), lambda c: c.add_note("n-ours", "ours", "t"))
    assert len(conflicts) == 1 and written.appended == 1
    assert [e.envelope.event_type for e in store.log] == ["ClientRegistered", "ClientNoteAdded", "ClientNoteAdded"]
    assert written.position == store.log[-1].seq


async def test_conflicts_on_every_attempt_raise_the_last_one(store):
    tries = []

    async def always_behind(aggregate_type, aggregate_id, expected, events):
        tries.append(expected)
        raise ConcurrencyConflict(aggregate_id, expected)

    store.append = always_behind
    with pytest.raises(ConcurrencyConflict):
        await Aggregates(store, attempts=3).update(Client, CLIENT, Command(), lambda c: c.add_note("n", "x", "t"))
    assert len(tries) == 3 and store.recalls == 1  # three decisions: the first on the remembered history


async def test_a_refusal_on_a_remembered_history_is_decided_again_on_a_load(store):
    await store.remember("client", CLIENT)
    forgotten = Aggregates(store)
    await forgotten.update(Client, CLIENT, Command(), lambda c: c.forget())  # the log moves on
    loads = store.loads

    def refuse_unless_forgotten(client: Client) -> None:
        if not client.forgotten:
            raise DomainRuleViolation("only a forgotten client")
        client.add_note("n", "after", "t")

    written = await Aggregates(store).update(Client, CLIENT, Command(), refuse_unless_forgotten)
    assert written.appended == 1 and store.loads == loads + 1


async def test_a_refusal_on_a_load_is_raised_and_appends_nothing(store):
    before = len(store.log)
    with pytest.raises(DomainRuleViolation, match="no"):
        await Aggregates(store).update(
            Client, CLIENT, Command(), lambda c: (_ for _ in ()).throw(DomainRuleViolation("no"))
        )
    assert len(store.log) == before


async def test_nothing_to_do_on_a_remembered_history_is_decided_again_on_a_load(store):
    await store.remember("client", CLIENT)  # revenue 100
    await Aggregates(store).update(Client, CLIENT, Command(), lambda c: c.change_revenue(Decimal(200)))
    written = await Aggregates(store).update(Client, CLIENT, Command(), lambda c: c.change_revenue(Decimal(100)))
    assert written.appended == 1
    assert [e.event.annual_revenue for e in store.log if e.envelope.event_type == "ClientRevenueChanged"] == [200, 100]


async def test_nothing_to_do_on_a_load_answers_the_version_and_appends_nothing(store):
    written = await Aggregates(store).update(Client, CLIENT, Command(), lambda c: c.change_revenue(Decimal(100)))
    assert (written.appended, written.position) == (0, store.log[-1].seq)


def keyed(key: str = "k-1", body: bytes = b'{"text": "x"}') -> Command:
    return Command(actor="alice", key=RequestKey(key, fingerprint("POST", f"/v1/clients/{CLIENT}/notes", body)))


async def test_a_keyed_retry_answers_the_first_answer_and_appends_nothing(store):
    aggregates = Aggregates(store)

    async def add_note(command: Command):
        note_id = aggregates.new_id(command, "note")
        return await aggregates.update(
            Client, CLIENT, command, lambda c: c.add_note(note_id, "x", "alice"), ids={"note_id": note_id}
        )

    first = await add_note(keyed())
    replays = []
    again = await add_note(replace(keyed(), key=replace(keyed().key, on_replay=lambda: replays.append(1))))
    assert again == first and replays == [1]
    assert [e.envelope.event_type for e in store.log].count("ClientNoteAdded") == 1
    assert again.replayed and again.replayed[0].envelope.event_id == store.log[-1].envelope.event_id
    with pytest.raises(IdempotencyKeyReused):  # the same key for another request
        await add_note(keyed(body=b'{"text": "y"}'))
    other = await add_note(keyed("k-2"))  # another key: another note
    assert other.ids["note_id"] != first.ids["note_id"] and other.appended == 1


async def test_a_keyed_create_retried_answers_what_is_stored(store):
    aggregates = Aggregates(store)
    built = []

    async def register(command: Command):
        client_id = aggregates.new_id(command, "client")

        def build() -> Client:
            built.append(client_id)
            return Client.register(
                client_id,
                name="Beta",
                segment="B2C",
                account_manager="bob",
                sealed_contacts=None,
                business_description="",
                annual_revenue=None,
                contact_policy=None,
            )

        return await aggregates.create(Client, client_id, command, build)

    first = await register(keyed("c-1", b"{}"))
    again = await register(keyed("c-1", b"{}"))
    assert again == first and len(built) == 1  # the retry builds nothing


async def test_the_reaction_rule_any_exception_on_a_remembered_history_is_decided_again(store):
    """The loop under the reaction runner: whatever a decision raises on a remembered history is
    decided again on a load; raised on a load, it goes to the caller."""
    await store.remember("client", CLIENT)
    await note(store, "moved on")

    class NeedsTheNote:
        def decide(self, history):
            if not any(isinstance(e.event, ClientNoteAdded) for e in history.events):
                raise KeyError("the note")
            return [
                NewEvent(
                    ClientNoteAdded(client_id=CLIENT, note_id="n2", text="seen", author="r"),
                    correlation_id=CLIENT,
                    actor="reaction:t",
                )
            ]

        def appended(self, result):
            return "appended"

        def unchanged(self):
            return "ignored"

    assert await CommandLoop(store).run("client", CLIENT, NeedsTheNote()) == "appended"
    with pytest.raises(KeyError):
        await CommandLoop(store).run("client", "7b0e1c3e-0000-4000-8000-000000000002", NeedsTheNote())
