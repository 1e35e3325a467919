"""The reaction runner: a cross-service policy, exactly once in effect, on a real broker.

A stand-in for delivery's reaction (the runner, not delivery's rules, is under test): intake's HandoffRequested opens a work
order (one aggregate per handoff) in the DELIVERY stream.
"""

import asyncio
from datetime import date

import pytest
from baton_shared.contracts import STREAMS
from baton_shared.contracts import intake as ev
from baton_shared.contracts.registry import registry as contracts
from baton_shared.events import DomainEvent, EventRegistry
from baton_shared.eventstore import EventStoreUnavailable, NewEvent
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import js_api, provision_stream
from baton_shared.eventstore.reader import read_stream
from baton_shared.projections.checkpoints import parked_events
from baton_shared.projections.sql import make_engine
from baton_shared.reactions import CauseNotReady, Reaction, ReactionRunner
from sqlalchemy import select

from tests.integration.journeys import write_journeys
from tests.integration.services import eventually

pytestmark = pytest.mark.nats


class StandInWorkOrderOpened(DomainEvent):
    service = "delivery"
    event_type = "StandInWorkOrderOpened"
    aggregate_type = "work_order"

    work_order_id: str
    request_id: str
    department: str
    due_by: date


registry = EventRegistry()
for cls in [*(c for c in contracts.types() if c.service == "intake"), StandInWorkOrderOpened]:
    registry.register(cls)


class OpenWorkOrder(Reaction):
    name = "open_work_order"
    source = STREAMS["intake"]
    event_types = ("HandoffRequested",)

    def __init__(self, poison_department: str | None = None) -> None:
        self.poison_department = poison_department

    def target(self, cause):
        return ("work_order", cause.event.handoff_id)

    def decide(self, history, cause, context=None):
        e: ev.HandoffRequested = cause.event
        if e.department == self.poison_department:
            raise ValueError(f"cannot open work for {e.department}")
        if history.events:
            return []  # already open
        return [
            StandInWorkOrderOpened(
                work_order_id=e.handoff_id, request_id=e.request_id, department=e.department, due_by=e.due_by
            )
        ]


@pytest.fixture
async def stores(nats):
    for spec in (STREAMS["intake"], STREAMS["delivery"]):
        await provision_stream(nats, spec)
    return (
        JetStreamEventStore(nats, STREAMS["intake"], registry),
        JetStreamEventStore(nats, STREAMS["delivery"], registry),
    )


@pytest.fixture
async def engine(tmp_path):
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}")
    yield engine
    await engine.dispose()


async def runner_for(delivery, engine, reaction=None) -> ReactionRunner:
    runner = ReactionRunner(reaction or OpenWorkOrder(), delivery, registry, engine, service="delivery", max_attempts=2)
    await runner.setup()
    return runner


async def delivery_events(nats) -> list:
    out = []
    async for batch in read_stream(nats, "DELIVERY"):
        out.extend(registry.decode("DELIVERY", r.seq, r.subject, r.data) for r in batch)
    return out


async def handoffs(nats) -> list:
    out = []
    async for batch in read_stream(nats, "INTAKE", filter_subject="intake.*.*.HandoffRequested"):
        out.extend(registry.decode("INTAKE", r.seq, r.subject, r.data) for r in batch)
    return out


async def test_a_redelivered_cause_never_yields_a_second_reaction(stores, nats, engine):
    intake, delivery = stores
    await write_journeys(intake, clients=2)
    causes = await handoffs(nats)
    runner = await runner_for(delivery, engine)
    assert [await runner.handle(c) for c in causes] == ["appended"] * len(causes)
    assert [await runner.handle(c) for c in causes] == ["ignored"] * len(causes)
    opened = await delivery_events(nats)
    assert len(opened) == len(causes)
    for cause, effect in zip(causes, opened, strict=True):
        assert effect.envelope.causation_id == cause.envelope.event_id
        assert effect.envelope.correlation_id == cause.envelope.correlation_id


async def test_live_reaction_survives_a_restart_that_replays_every_cause(stores, nats, engine):
    intake, delivery = stores
    runner = await runner_for(delivery, engine)
    await runner.prepare_live(nats)
    await runner.start_live(nats)
    try:
        await write_journeys(intake, clients=5)
        expected = len(await handoffs(nats))
        await eventually(lambda: _count(nats, expected), timeout=20)
    finally:
        await runner.stop_live()
    # The service "died" before acknowledging anything: the consumer starts over.
    await js_api(nats, f"CONSUMER.DELETE.INTAKE.{runner.durable}")
    again = await runner_for(delivery, engine)
    await again.prepare_live(nats)
    await again.start_live(nats)
    try:
        await eventually(lambda: _acked(nats, again.durable), timeout=20)
    finally:
        await again.stop_live()
    assert len(await delivery_events(nats)) == expected


async def test_two_replicas_racing_on_the_same_causes_react_once(stores, nats, engine):
    intake, delivery = stores
    await write_journeys(intake, clients=4)
    causes = await handoffs(nats)
    a, b = await runner_for(delivery, engine), await runner_for(delivery, engine)

    async def run(runner):
        return [await runner.handle(c) for c in causes]

    results = await asyncio.gather(run(a), run(b))
    # Whichever replica loses a race either sees the work order open ("ignored") or
    # finds its identical append (same derived ids) already stored: both are success.
    assert all(outcome in {"appended", "ignored"} for r in results for outcome in r)
    opened = await delivery_events(nats)
    assert len(opened) == len(causes)
    assert len({e.envelope.event_id for e in opened}) == len(causes)


async def test_a_poison_cause_is_parked_and_the_others_go_on(stores, nats, engine):
    intake, delivery = stores
    await write_journeys(intake, clients=6)
    causes = await handoffs(nats)
    poison = causes[0].event.department
    runner = await runner_for(delivery, engine, OpenWorkOrder(poison_department=poison))
    await runner.prepare_live(nats)
    await runner.start_live(nats)
    healthy = [c for c in causes if c.event.department != poison]
    try:
        await eventually(lambda: _count(nats, len(healthy)), timeout=20)
        await eventually(lambda: _acked(nats, runner.durable), timeout=20)
    finally:
        await runner.stop_live()
    async with engine.connect() as conn:
        parked = (await conn.execute(select(parked_events))).mappings().all()
    assert {p["seq"] for p in parked} == {c.seq for c in causes if c.event.department == poison}
    assert all("cannot open work" in p["error"] and p["tries"] == 2 for p in parked)


async def _count(nats, n: int) -> bool:
    info = await js_api(nats, "STREAM.INFO.DELIVERY")
    return info["state"]["messages"] >= n


async def _acked(nats, durable: str) -> bool:
    info = await js_api(nats, f"CONSUMER.INFO.INTAKE.{durable}")
    return info["num_pending"] == 0 and info["num_ack_pending"] == 0


async def test_causes_in_flight_to_a_dead_process_are_handled_in_order_on_restart(stores, nats, engine):
    intake, delivery = stores
    await write_journeys(intake, clients=4)
    expected = len(await handoffs(nats))
    first = await runner_for(delivery, engine)
    await first.prepare_live(nats)
    # A process is pinned, pulls causes and dies before handling or acknowledging them.
    inbox = nats.new_inbox()
    sub = await nats.subscribe(inbox)
    await nats.publish(
        f"$JS.API.CONSUMER.MSG.NEXT.INTAKE.{first.durable}", b'{"batch": 3, "group": "reactions"}', reply=inbox
    )
    for _ in range(3):
        await sub.next_msg(timeout=5)
    await sub.unsubscribe()
    # The restarted service must handle them now, in order, not after ack_wait behind
    # newer causes.
    again = await runner_for(delivery, engine)
    await again.prepare_live(nats)
    await again.start_live(nats)
    try:
        await eventually(lambda: _count(nats, expected), timeout=10)
        await eventually(lambda: _acked(nats, again.durable), timeout=10)
    finally:
        await again.stop_live()
    assert len(await delivery_events(nats)) == expected


class OpenWhenTheRequestIsKnown(OpenWorkOrder):
    """Stands in for follow-up waiting for intake's ClientRegistered: not ready until told."""

    def __init__(self, known: set[str]) -> None:
        super().__init__()
        self.known = known

    def decide(self, history, cause, context=None):
        if cause.event.request_id not in self.known:
            raise CauseNotReady(f"request {cause.event.request_id} not known yet")
        return super().decide(history, cause, context)


async def _parked(engine) -> list:
    async with engine.connect() as conn:
        return (await conn.execute(select(parked_events))).mappings().all()


async def test_a_cause_whose_target_is_not_ready_waits_for_it_and_is_handled_once(stores, nats, engine):
    intake, delivery = stores
    await write_journeys(intake, clients=3)
    causes = await handoffs(nats)
    late = causes[0].event.request_id
    known = {c.event.request_id for c in causes} - {late}
    runner = await runner_for(
        delivery, engine, OpenWhenTheRequestIsKnown(known)
    )  # max_attempts=2: patience, not attempts, counts
    await runner.prepare_live(nats)
    await runner.start_live(nats)
    try:

        async def waiting():
            return runner.last_error and "not known yet" in runner.last_error

        await eventually(waiting, timeout=10, what="the runner waiting on the first cause")
        await asyncio.sleep(1.0)  # several tries go by (backoff 0.2, 0.4, 0.8 s): none parks it
        assert not await _parked(engine)
        # Its request's other causes wait behind it (one target's causes in order); the
        # other requests' are not held up.
        waiting_behind = {c.event.handoff_id for c in causes if c.event.request_id == late}
        opened = {e.event.work_order_id for e in await delivery_events(nats)}
        assert opened and not opened & waiting_behind, (opened, waiting_behind)
        # Causes that arrive while it waits are not held up either (nor is the pull loop).
        await write_journeys(intake, clients=2, seed=21)
        newer = [c for c in await handoffs(nats) if c.seq > causes[-1].seq]
        known.update(c.event.request_id for c in newer)
        await eventually(
            lambda: _count(nats, len(causes) - len(waiting_behind) + len(newer)),
            timeout=10,
            what="the newer causes handled while the first still waits",
        )
        assert not {e.event.work_order_id for e in await delivery_events(nats)} & waiting_behind
        causes += newer
        known.add(late)
        await eventually(lambda: _count(nats, len(causes)), timeout=20)
        await eventually(lambda: _acked(nats, runner.durable), timeout=20)
    finally:
        await runner.stop_live()
    opened = await delivery_events(nats)
    assert sorted(e.event.work_order_id for e in opened) == sorted(c.event.handoff_id for c in causes)
    assert not await _parked(engine)


async def test_a_cause_that_stays_not_ready_is_parked_after_the_patience_and_the_others_go_on(stores, nats, engine):
    intake, delivery = stores
    await write_journeys(intake, clients=3)
    causes = await handoffs(nats)
    never = causes[0].event.request_id
    runner = await runner_for(
        delivery, engine, OpenWhenTheRequestIsKnown({c.event.request_id for c in causes} - {never})
    )
    runner.not_ready_patience = 1.0
    await runner.prepare_live(nats)
    await runner.start_live(nats)
    try:
        ready = [c for c in causes if c.event.request_id != never]
        await eventually(lambda: _count(nats, len(ready)), timeout=20)
        await eventually(lambda: _acked(nats, runner.durable), timeout=20)
    finally:
        await runner.stop_live()
    parked = await _parked(engine)
    assert {p["seq"] for p in parked} == {c.seq for c in causes if c.event.request_id == never}
    assert all("CauseNotReady" in p["error"] and "not known yet" in p["error"] for p in parked)


async def test_stopping_while_a_cause_waits_leaves_it_for_the_next_start(stores, nats, engine):
    intake, delivery = stores
    await write_journeys(intake, clients=2)
    causes = await handoffs(nats)
    known: set[str] = set()  # nothing is ready
    runner = await runner_for(delivery, engine, OpenWhenTheRequestIsKnown(known))
    await runner.prepare_live(nats)
    await runner.start_live(nats)

    async def waiting():
        return runner.last_error and "not known yet" in runner.last_error

    await eventually(waiting, timeout=10, what="the runner waiting on the first cause")
    started = asyncio.get_running_loop().time()
    await runner.stop_live()
    assert asyncio.get_running_loop().time() - started < 6  # not the 10 minutes of patience
    assert await delivery_events(nats) == [] and not await _parked(engine)
    known.update(c.event.request_id for c in causes)  # ready now: the next start handles everything
    again = await runner_for(delivery, engine, OpenWhenTheRequestIsKnown(known))
    await again.prepare_live(nats)
    await again.start_live(nats)
    try:
        await eventually(lambda: _count(nats, len(causes)), timeout=20)
        await eventually(lambda: _acked(nats, again.durable), timeout=20)
    finally:
        await again.stop_live()
    assert len(await delivery_events(nats)) == len(causes)


class LogAway:
    """The delivery store as during a leader election: the first appends are not confirmed."""

    def __init__(self, store, failures: int) -> None:
        self.store, self.failures = store, failures

    def __getattr__(self, name):
        return getattr(self.store, name)

    async def append(self, *args, **kwargs):
        if self.failures > 0:
            self.failures -= 1
            raise EventStoreUnavailable("append not confirmed after 3 attempts: NoRespondersError()")
        return await self.store.append(*args, **kwargs)


async def test_a_log_that_cannot_confirm_appends_is_waited_out_not_parked(stores, nats, engine):
    """More failed appends than max_attempts (2 here): the log being away is an outage, waited
    out like a target not ready, and the cause is handled once it is back (found by the cluster
    test: causes parked while the stream elected a leader)."""
    intake, delivery = stores
    await write_journeys(intake, clients=1)
    causes = await handoffs(nats)
    runner = await runner_for(LogAway(delivery, failures=4), engine)
    await runner.prepare_live(nats)
    await runner.start_live(nats)
    try:
        await eventually(lambda: _count(nats, len(causes)), timeout=20, what="every cause handled")
    finally:
        await runner.stop_live()
    assert not await _parked(engine)


class StandInNoteCopied(DomainEvent):
    service = "delivery"
    event_type = "StandInNoteCopied"
    aggregate_type = "note_copy"

    client_id: str
    text: str


registry.register(StandInNoteCopied)


class CopyNotes(Reaction):
    """Each note of a client copied to one target per client: the target's history shows the
    order its causes were handled in."""

    name = "copy_notes"
    source = STREAMS["intake"]
    event_types = ("ClientNoteAdded",)

    def target(self, cause):
        return ("note_copy", cause.event.client_id)

    def decide(self, history, cause, context=None):
        return [StandInNoteCopied(client_id=cause.event.client_id, text=cause.event.text)]


async def test_a_failed_acknowledgement_keeps_the_targets_later_causes_in_order(stores, nats, engine):
    """The acknowledgement of a handled cause fails (the connection goes away a moment): the
    target's next causes must still be handled after it and before anything that comes later;
    the handled one comes back after ack_wait and is recognised as handled."""
    intake, delivery = stores
    client_id = "c-order"

    async def note(text: str, version: int) -> None:
        event = ev.ClientNoteAdded(client_id=client_id, note_id=f"n{text}", text=text, author="alice")
        await intake.append("client", client_id, version, [NewEvent(event, correlation_id=client_id, actor="t")])

    await note("1", 0)
    await note("2", 1)  # both delivered in one batch, lined up behind the same target
    runner = ReactionRunner(CopyNotes(), delivery, registry, engine, service="delivery", max_attempts=2, ack_wait_s=2.0)
    await runner.setup()
    failed = asyncio.Event()
    deliver = runner._on_messages

    async def first_ack_fails(msgs):
        for msg in msgs:
            if not failed.is_set() and b'"text":"1"' in msg.data and not hasattr(msg, "_tried"):
                msg._tried = True

                async def ack_away() -> None:
                    failed.set()
                    raise ConnectionError("connection away while acknowledging")

                msg.ack = ack_away
        await deliver(msgs)

    runner._on_messages = first_ack_fails
    await runner.prepare_live(nats)
    await runner.start_live(nats)
    try:
        await asyncio.wait_for(failed.wait(), 20)
        await note("3", 2)  # a later cause of the same target, arriving right after the failure

        async def copied() -> bool:
            return len((await delivery.history("note_copy", client_id)).events) >= 3

        await eventually(copied, timeout=30)
        await eventually(lambda: _acked(nats, runner.durable), timeout=30)
    finally:
        await runner.stop_live()
    texts = [e.event.text for e in (await delivery.history("note_copy", client_id)).events]
    assert texts == ["1", "2", "3"]
