"""Reactions decided on a held aggregate (``AggregateReaction``): each cause folds only what
came since the last, and what is held always equals a fold of the log (in-memory store)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from baton_shared import uuid_strings
from baton_shared.application import AggregateCache
from baton_shared.contracts import STREAMS, registry
from baton_shared.contracts import delivery as dev
from baton_shared.contracts import followup as ev
from baton_shared.contracts.intake import ClientRegistered, ContactPolicy
from baton_shared.events.envelope import Envelope, RecordedEvent
from baton_shared.eventstore import NewEvent
from baton_shared.eventstore.memory import InMemoryEventStore
from baton_shared.eventstore.reader import RawEvent
from baton_shared.reactions import AggregateReaction, CauseNotReady, ReactionRunner

from baton_followup.domain import Relationship
from baton_followup.reactions import FollowDeliveryWork
from baton_intake.domain import Client

pytestmark = pytest.mark.unit
NOW = datetime(2026, 12, 6, 9, 0, tzinfo=timezone.utc)
CLIENT = "0b7a4c1e-5d2f-4c3b-9a8e-1f2d3c4b5a60"


def cause(seq: int, event) -> RecordedEvent:  # noqa: ANN001
    envelope = Envelope(
        event_id=uuid_strings.of_int(seq), event_type=event.event_type, schema_version=event.schema_version,
        aggregate_type="work_order", aggregate_id=event.work_order_id, occurred_at=NOW + timedelta(minutes=seq),
        correlation_id=event.request_id, actor="alice", payload=event.model_dump(mode="json"),
    )  # fmt: skip
    subject = f"delivery.work_order.{event.work_order_id}.{event.event_type}"
    return RecordedEvent("DELIVERY", seq, subject, envelope, event)


def blocked(seq: int, work_order: str) -> RecordedEvent:
    return cause(
        seq,
        dev.WorkOrderBlocked(
            request_id="q1", client_id=CLIENT, work_order_id=work_order, department="web", reason="no access",
            blocked_at=NOW,
        ),
    )  # fmt: skip


def unblocked(seq: int, work_order: str) -> RecordedEvent:
    return cause(
        seq,
        dev.WorkOrderUnblocked(
            request_id="q1", client_id=CLIENT, work_order_id=work_order, department="web", unblocked_at=NOW,
            blocked_seconds=60.0,
        ),
    )  # fmt: skip


def runner(reaction, store) -> ReactionRunner:  # noqa: ANN001
    return ReactionRunner(reaction, store, registry, engine=None, service="followup")  # handle() needs no database


async def started_relationship(store: InMemoryEventStore) -> None:
    started = ev.RelationshipStarted(
        client_id=CLIENT, client_name="Acme", account_manager="alice", contact_policy=ContactPolicy()
    )
    await store.append("client", CLIENT, 0, [NewEvent(started, correlation_id=CLIENT, actor="reaction:intake")])


async def fresh(store: InMemoryEventStore, cls, aggregate_id: str):  # noqa: ANN001
    return cls.from_history(aggregate_id, await store.history(cls.aggregate_type, aggregate_id))


async def held_equals_the_log(cache: AggregateCache, store: InMemoryEventStore, cls, aggregate_id: str) -> None:  # noqa: ANN001
    held = cache.fold(cls, aggregate_id, await store.history(cls.aggregate_type, aggregate_id))
    assert vars(held) == vars(await fresh(store, cls, aggregate_id))
    cache.keep_unchanged(held)


async def test_each_cause_folds_only_what_came_since_and_the_held_relationship_equals_the_log():
    store, cache = InMemoryEventStore(STREAMS["followup"], registry), AggregateCache()
    await started_relationship(store)
    work = runner(FollowDeliveryWork(cache), store)
    outcomes = []
    for n in range(30):
        outcomes.append(await work.handle(blocked(2 * n + 1, f"w{n}")))
        outcomes.append(await work.handle(unblocked(2 * n + 2, f"w{n}")))
        outcomes.append(await work.handle(unblocked(100 + n, f"w{n}")))  # no change of concern
    assert outcomes == ["appended", "appended", "ignored"] * 30
    assert cache.misses == 1  # the first cause folded the history; every later one took it held
    await held_equals_the_log(cache, store, Relationship, CLIENT)
    concerns = [e for e in store.log if e.envelope.event_type == "WorkConcernChanged"]
    assert len(concerns) == 60


async def test_a_redelivered_cause_appends_nothing_and_leaves_no_half_decision_held():
    store, cache = InMemoryEventStore(STREAMS["followup"], registry), AggregateCache()
    await started_relationship(store)
    work = runner(FollowDeliveryWork(cache), store)
    causes = [blocked(1, "w1"), blocked(2, "w2"), unblocked(3, "w1")]
    assert [await work.handle(c) for c in causes] == ["appended"] * 3
    stored = len(store.log)
    misses = cache.misses
    # w1's block again, after its unblock, would block it again: the runner finds the cause's
    # event in the history; w2's and w1's unblock change nothing now
    assert [await work.handle(c) for c in causes] == ["duplicate", "ignored", "ignored"]
    assert cache.misses == misses + 1  # the duplicate's relationship held the block: not kept
    assert len(store.log) == stored
    await held_equals_the_log(cache, store, Relationship, CLIENT)


async def test_a_cause_that_waits_is_not_held_and_is_decided_once_the_relationship_started():
    store, cache = InMemoryEventStore(STREAMS["followup"], registry), AggregateCache()
    work = runner(FollowDeliveryWork(cache), store)
    with pytest.raises(CauseNotReady):
        await work.handle(blocked(1, "w1"))
    assert not cache.entries
    await started_relationship(store)
    assert await work.handle(blocked(1, "w1")) == "appended"
    await held_equals_the_log(cache, store, Relationship, CLIENT)


class NoteEveryBlock(AggregateReaction[Client]):
    """A stand-in that records on every cause, so a cause handled twice reaches the runner's
    check of the history rather than the domain's own."""

    aggregate_class = Client
    name = "note_every_block"
    source = STREAMS["delivery"]
    event_types = ("WorkOrderBlocked",)

    def target(self, cause: RecordedEvent) -> tuple[str, str] | None:
        return ("client", cause.event.client_id)

    def act(self, client: Client, cause: RecordedEvent, context: object = None) -> None:
        client.add_note(uuid_strings.random_uuid(), f"blocked: {cause.event.reason}", "reaction")


async def test_a_cause_handled_here_or_by_another_replica_is_recognised_from_the_held_ids():
    store = InMemoryEventStore(STREAMS["intake"], registry)
    registered = ClientRegistered(client_id=CLIENT, name="Acme", segment="B2B", account_manager="alice")
    await store.append("client", CLIENT, 0, [NewEvent(registered, correlation_id=CLIENT, actor="alice")])
    ours, theirs = NoteEveryBlock(), NoteEveryBlock()  # two replicas: a cache each
    first, second = blocked(1, "w1"), blocked(2, "w2")
    assert await runner(ours, store).handle(first) == "appended"
    assert await runner(theirs, store).handle(second) == "appended"  # ours is held behind it
    assert await runner(ours, store).handle(second) == "duplicate"  # brought forward past their note
    assert (ours.cache.hits, ours.cache.misses) == (1, 1)  # the ids it holds were brought forward with it
    assert await runner(ours, store).handle(first) == "duplicate"
    assert ours.cache.misses == 2  # a duplicate's aggregate holds a decision not stored: not kept
    assert await runner(theirs, store).handle(first) == "duplicate"
    notes = [e for e in store.log if e.envelope.event_type == "ClientNoteAdded"]
    assert len(notes) == 2
    await held_equals_the_log(ours.cache, store, Client, CLIENT)
    await held_equals_the_log(theirs.cache, store, Client, CLIENT)


class Delivered:
    """A cause as the pinned pull loop hands it over (the part of nats-py's Msg the runner uses)."""

    def __init__(self, pin: str) -> None:
        self.headers = {"Nats-Pin-Id": pin}
        self.acked = False

    async def ack(self) -> None:
        self.acked = True

    async def in_progress(self) -> None:
        pass


async def test_a_new_holder_that_cannot_ask_the_consumers_state_asks_again_and_handles_what_it_holds():
    store = InMemoryEventStore(STREAMS["intake"], registry)
    registered = ClientRegistered(client_id=CLIENT, name="Acme", segment="B2B", account_manager="alice")
    await store.append("client", CLIENT, 0, [NewEvent(registered, correlation_id=CLIENT, actor="alice")])
    work = runner(NoteEveryBlock(), store)
    work._loop = SimpleNamespace(pin_id="pin-1")  # pinned, not yet known to be the only holder
    asked = []

    async def holds_every_cause_out(holding: int) -> bool:
        asked.append(holding)
        if len(asked) == 1:  # the consumer's leader is being elected
            raise RuntimeError("JetStream system temporarily unavailable (err_code 10008)")
        return True

    work._holds_every_cause_out = holds_every_cause_out
    cause = blocked(7, "w1")
    msg = Delivered("pin-1")
    work._held = {7: (msg, RawEvent(7, cause.subject, registry.encode(cause.envelope), 0))}
    work._unacked = {7: msg}
    await work._release()  # raised here, the cause was kept "still working" and never handled
    deadline = asyncio.get_running_loop().time() + 5
    while not msg.acked:
        assert asyncio.get_running_loop().time() < deadline, f"the held cause was never handled (asked {asked})"
        await asyncio.sleep(0.05)
    assert work.handled == 1 and not work._held and not work._unacked and len(asked) == 2
