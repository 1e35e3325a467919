"""The aggregate cache (baton_shared.application.aggregate_cache), against the in-memory store."""

from datetime import datetime, timezone

import pytest

from baton_shared.contracts import STREAMS, registry
from baton_shared.domain import DomainRuleViolation
from baton_shared.eventstore.memory import InMemoryEventStore
from baton_shared.eventstore.port import AggregateHistory
from baton_shared.application import AggregateCache
from baton_intake.application import (
    AddClientNote,
    AssignAccountManager,
    CancelRequest,
    CaptureNeed,
    IntakeApplication,
    RegisterClient,
)
from baton_intake.domain import Client, Request

pytestmark = pytest.mark.unit
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=timezone.utc)


@pytest.fixture
def store():
    return InMemoryEventStore(STREAMS["intake"], registry)


def application(store) -> IntakeApplication:
    return IntakeApplication(store, clock=lambda: NOW)


async def fresh(store, cls, aggregate_id):
    return cls.from_history(aggregate_id, await store.history(cls.aggregate_type, aggregate_id))


async def test_a_command_decides_on_the_held_aggregate_and_it_equals_a_fold_from_scratch(store):
    app = application(store)
    client_id = (await app.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="alice"))).ids[
        "client_id"
    ]
    for n in range(20):
        await app.add_client_note(AddClientNote(client_id=client_id, text=f"note {n}", actor="alice"))
    assert app.aggregates.cache.hits == 20 and app.aggregates.cache.misses == 0
    held = app.aggregates.cache.fold(Client, client_id, await store.history("client", client_id))
    assert vars(held) == vars(await fresh(store, Client, client_id))
    assert held.version == 21 and held.name == "Acme"


async def test_what_another_writer_appended_meanwhile_is_folded_forward(store):
    ours, theirs = application(store), application(store)  # two replicas on one stream
    client_id = (await ours.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="alice"))).ids[
        "client_id"
    ]
    await ours.add_client_note(AddClientNote(client_id=client_id, text="ours", actor="alice"))
    for n in range(3):
        await theirs.assign_account_manager(
            AssignAccountManager(
                client_id=client_id, account_manager=f"bob{n}", handover_note="over to you", actor="bob"
            )
        )
    await ours.add_client_note(AddClientNote(client_id=client_id, text="ours again", actor="alice"))
    assert ours.aggregates.cache.hits == 2  # the held one, brought forward past the three assignments
    held = ours.aggregates.cache.fold(Client, client_id, await store.history("client", client_id))
    assert vars(held) == vars(await fresh(store, Client, client_id))
    assert held.account_manager == "bob2" and held.version == 6


async def test_a_refused_command_drops_the_aggregate_it_half_decided_on(store):
    app = application(store)
    client_id = (await app.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="alice"))).ids[
        "client_id"
    ]
    request_id = (await app.capture_need(CaptureNeed(client_id=client_id, summary="a house"))).ids["request_id"]
    await app.cancel_request(CancelRequest(request_id=request_id, reason="budget"))
    misses = app.aggregates.cache.misses
    with pytest.raises(DomainRuleViolation):
        await app.cancel_request(CancelRequest(request_id=request_id, reason="again"))
    assert (Request, request_id) not in app.aggregates.cache.entries
    with pytest.raises(DomainRuleViolation):
        await app.cancel_request(CancelRequest(request_id=request_id, reason="and again"))
    assert app.aggregates.cache.misses == misses + 1  # folded from scratch after the refusal
    held = app.aggregates.cache.fold(Request, request_id, await store.history("request", request_id))
    assert vars(held) == vars(await fresh(store, Request, request_id))


async def test_a_history_that_no_longer_holds_the_kept_event_is_folded_from_scratch(store):
    app = application(store)
    client_id = (await app.register_client(RegisterClient(name="Acme", segment="B2B", account_manager="alice"))).ids[
        "client_id"
    ]
    history = await store.history("client", client_id)
    # the same position now holds another event (a stream recreated, say)
    other = InMemoryEventStore(STREAMS["intake"], registry)
    await application(other).register_client(RegisterClient(name="Other", segment="B2C", account_manager="bob"))
    recreated = await other.history("client", next(iter({e.envelope.aggregate_id for e in other.log})))
    misses = app.aggregates.cache.misses
    folded = app.aggregates.cache.fold(Client, client_id, AggregateHistory(recreated.events, recreated.version))
    assert app.aggregates.cache.misses == misses + 1 and folded.name == "Other"
    assert history.events[0].envelope.event_id != recreated.events[0].envelope.event_id


def test_a_zero_size_holds_nothing():
    cache = AggregateCache(size=0)
    client = Client("7b0e1c3e-0000-4000-8000-000000000000")
    cache.keep_unchanged(client)
    assert not cache.entries
