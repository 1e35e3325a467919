"""Two replicas of a service sharing its durable consumers and its database (scale-out).

Each replica has its own NATS connection and its own runners, as two processes would;
they share the durable consumers (same names) and the projection database.
"""

from __future__ import annotations

import asyncio
import random

import nats as nats_py
import pytest

from baton_shared.contracts import STREAMS, registry as contracts
from baton_shared.events import DomainEvent, EventRegistry
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import NS, consumer_info, js_api, provision_stream, reconcile_durable
from baton_shared.eventstore.reader import read_stream
from baton_shared.projections import ProjectionRunner
from baton_shared.reactions import Reaction, ReactionRunner
from baton_shared.reactions.runner import ACK_WAIT_SECONDS, PRIORITY_TIMEOUT_SECONDS
from baton_intake.projections import all_projections
from tests.integration.journeys import write_journeys
from tests.integration.services import eventually
from tests.integration.test_projections import rows

pytestmark = pytest.mark.nats
INTAKE = STREAMS["intake"]


class CauseNoted(DomainEvent):
    """What the stand-in reaction appends: which cause it handled, per request."""

    service = "delivery"
    event_type = "CauseNoted"
    aggregate_type = "journal"

    cause_seq: int
    cause_type: str


registry = EventRegistry()
for cls in [*(c for c in contracts.types() if c.service == "intake"), CauseNoted]:
    registry.register(cls)


class NoteCausesPerRequest(Reaction):
    """Like delivery's reaction: a request's handoff, changes and cancellation, which must apply in order."""

    name = "note_causes"
    source = INTAKE
    event_types = ("HandoffRequested", "ChangeRequested", "RequestCancelled")

    def target(self, cause):
        return ("journal", cause.event.request_id)

    def decide(self, history, cause, context=None):
        return [CauseNoted(cause_seq=cause.seq, cause_type=cause.envelope.event_type)]


class SlowReplica(ReactionRunner):
    """A replica whose handling takes a little while, so two replicas overlap."""

    async def handle(self, cause):
        await asyncio.sleep(random.uniform(0, 0.004))
        return await super().handle(cause)


@pytest.fixture
async def second(nats_url):
    """A second connection: the other replica's."""
    nc = await nats_py.connect(nats_url)
    yield nc
    await nc.drain()


async def _replica(nc, engine, **timing) -> SlowReplica:
    runner = SlowReplica(
        NoteCausesPerRequest(),
        JetStreamEventStore(nc, STREAMS["delivery"], registry),
        registry,
        engine,
        service="delivery",
        **timing,
    )
    await runner.setup()
    return runner


async def _causes(nats) -> list:
    return [
        raw
        async for batch in read_stream(nats, "INTAKE")
        for raw in batch
        if raw.subject.rsplit(".", 1)[1] in NoteCausesPerRequest.event_types
    ]


async def _noted_once_each_and_in_order(nats, causes) -> dict[str, list[int]]:
    noted = [
        registry.decode("DELIVERY", r.seq, r.subject, r.data)
        async for batch in read_stream(nats, "DELIVERY")
        for r in batch
    ]
    assert sorted(e.event.cause_seq for e in noted) == [c.seq for c in causes]  # each cause once
    per_request: dict[str, list[int]] = {}
    for e in noted:
        per_request.setdefault(e.envelope.aggregate_id, []).append(e.event.cause_seq)
    for request_id, seqs in per_request.items():
        assert seqs == sorted(seqs), f"request {request_id}: causes handled out of order {seqs}"
    assert any(len(seqs) > 1 for seqs in per_request.values())  # order was at stake
    return per_request


async def test_two_replicas_of_a_reaction_handle_each_requests_causes_once_and_in_order(nats, second, engine):
    """One replica is pinned and handles the causes; the other stands by, and takes over
    when the first stops."""
    for spec in (INTAKE, STREAMS["delivery"]):
        await provision_stream(nats, spec)
    intake = JetStreamEventStore(nats, INTAKE, registry)
    replicas = [(await _replica(nc, engine), nc) for nc in (nats, second)]
    await asyncio.gather(*(r.prepare_live(nc) for r, nc in replicas))  # both start at once
    for runner, nc in replicas:
        await runner.start_live(nc)
    try:
        await write_journeys(intake, clients=8, seed=5)
        causes = await _causes(nats)
        await eventually(lambda: _delivery_has(nats, len(causes)), timeout=60, what="every cause handled")
        handling = [r for r, _ in replicas if r.handled]
        assert len(handling) == 1, [r.handled for r, _ in replicas]  # the pinned one
        pinned, standby = handling[0], next(r for r, _ in replicas if r is not handling[0])
        started = asyncio.get_running_loop().time()
        await pinned.stop_live()  # hands the pin over
        await write_journeys(intake, clients=8, seed=6)
        causes = await _causes(nats)
        await eventually(lambda: _delivery_has(nats, len(causes)), timeout=60, what="the standby took over")
        assert standby.handled > 0
        assert asyncio.get_running_loop().time() - started < 8  # not after the 10 s priority_timeout
    finally:
        for runner, _ in replicas:
            await runner.stop_live()
    await _noted_once_each_and_in_order(nats, causes)


async def test_a_replica_taking_over_from_a_stalled_one_handles_the_stalled_causes_first(nats, second, engine):
    """A pinned replica stalls holding a request's early causes; the standby is pinned after
    the priority timeout and receives that request's later causes. It must not handle them
    before the stalled ones come back to it (after ack_wait): nothing out of order."""
    for spec in (INTAKE, STREAMS["delivery"]):
        await provision_stream(nats, spec)
    intake = JetStreamEventStore(nats, INTAKE, registry)
    await write_journeys(intake, clients=8, seed=9)
    causes = await _causes(nats)
    standby = await _replica(nats, engine, ack_wait_s=2, priority_timeout_s=1)
    await standby.prepare_live(nats)
    # The stalled replica: pinned, holding the first causes, never acknowledging them.
    inbox = second.new_inbox()
    sub = await second.subscribe(inbox)
    await second.publish(
        f"$JS.API.CONSUMER.MSG.NEXT.INTAKE.{standby.durable}", b'{"batch": 4, "group": "reactions"}', reply=inbox
    )
    held = [await sub.next_msg(timeout=5) for _ in range(4)]
    held_requests = {c.subject.split(".")[2] for c in causes[:4]}
    assert [int(m.reply.split(".")[5]) for m in held] == [c.seq for c in causes[:4]]
    assert any(c.subject.split(".")[2] in held_requests for c in causes[4:])  # later causes of those requests
    await standby.start_live(nats)
    try:
        await eventually(lambda: _delivery_has(nats, len(causes)), timeout=30, what="every cause handled")
    finally:
        await standby.stop_live()
        await sub.unsubscribe()
    await _noted_once_each_and_in_order(nats, causes)


class HangingReplica(SlowReplica):
    """A replica that hangs on every cause while ``hanging``: whichever is pinned holds its
    causes, unacknowledged, until its process dies."""

    hanging = True

    async def handle(self, cause):
        while self.hanging:
            await asyncio.sleep(0.05)
        return await super().handle(cause)


async def test_a_holder_that_dies_is_replaced_within_seconds(nats, nats_url, engine):
    """A pinned replica holds causes it cannot finish: while it lives, its "still working"
    keeps them from coming back after ack_wait. It dies (no clean stop, no ack, no word
    after): the standby is pinned once the holder stops pulling, the dead one's causes come
    back to it after ack_wait, and everything is handled once and in order. Shortened
    timings here; a service's reactions use 5 s and 6 s (until 30 Nov: 10 s and 30 s)."""
    assert (PRIORITY_TIMEOUT_SECONDS, ACK_WAIT_SECONDS) <= (5, 6)
    for spec in (INTAKE, STREAMS["delivery"]):
        await provision_stream(nats, spec)
    intake = JetStreamEventStore(nats, INTAKE, registry)
    connections = [await nats_py.connect(nats_url) for _ in range(2)]
    replicas = []
    for nc in connections:
        runner = HangingReplica(
            NoteCausesPerRequest(),
            JetStreamEventStore(nc, STREAMS["delivery"], registry),
            registry,
            engine,
            service="delivery",
            ack_wait_s=1.5,
            priority_timeout_s=1.5,
        )
        await runner.setup()
        replicas.append(runner)
    await asyncio.gather(*(r.prepare_live(nc) for r, nc in zip(replicas, connections, strict=True)))
    for runner, nc in zip(replicas, connections, strict=True):
        await runner.start_live(nc)
    try:
        await write_journeys(intake, clients=8, seed=11)
        causes = await _causes(nats)

        async def one_holds_causes():
            return next((r for r in replicas if r._unacked), None)  # noqa: SLF001

        doomed = await eventually(one_holds_causes, timeout=10, what="a replica pinned, holding causes")
        survivor = next(r for r in replicas if r is not doomed)
        await asyncio.sleep(2 * doomed.ack_wait_s)
        info = await consumer_info(nats, "INTAKE", doomed.durable)
        assert info["num_redelivered"] == 0, info  # the living holder's causes stayed with it
        assert not survivor.handled
        assert (await js_api(nats, "STREAM.INFO.DELIVERY"))["state"]["messages"] == 0
        survivor.hanging = False
        died = asyncio.get_running_loop().time()
        await connections[replicas.index(doomed)].close()  # its process dies: no unpin, no ack, no word
        await eventually(lambda: _delivery_has(nats, len(causes)), timeout=30, what="the survivor handled everything")
        took = asyncio.get_running_loop().time() - died
        assert took < max(doomed.priority_timeout_s, doomed.ack_wait_s) + 2, took
        assert survivor.handled >= len(causes)
    finally:
        for runner in replicas:
            await runner.stop_live()
        for nc in connections:
            if not nc.is_closed:
                await nc.close()
    await _noted_once_each_and_in_order(nats, causes)


async def _delivery_has(nats, n: int) -> bool:
    return (await js_api(nats, "STREAM.INFO.DELIVERY"))["state"]["messages"] >= n


async def test_two_replicas_of_a_projection_equal_one_built_in_one_go(nats, second, engine):
    await provision_stream(nats, INTAKE)
    store = JetStreamEventStore(nats, INTAKE, contracts)
    replicas = []
    for nc in (nats, second):
        for projection in all_projections():
            runner = ProjectionRunner(projection, engine, INTAKE, contracts, service="intake", batch_size=20)
            await runner.setup()
            replicas.append((runner, nc))
    await asyncio.gather(*(r.prepare_live(nc) for r, nc in replicas))
    for runner, nc in replicas:
        await runner.start_live(nc)
    try:
        await write_journeys(store, clients=12, seed=3)
        head = await store.head()
        for runner, _ in replicas:
            assert await runner.wait_for(head, timeout=30), runner.status()
    finally:
        for runner, _ in replicas:
            await runner.stop_live()
    one_go = []
    for projection in all_projections("_one_go"):
        runner = ProjectionRunner(projection, engine, INTAKE, contracts, service="intake")
        await runner.setup()
        await runner.catch_up(nats)
        one_go.append(runner)
    for live, reference in zip(replicas[:3], one_go, strict=True):
        assert await rows(engine, live[0]) == await rows(engine, reference)


async def test_replicas_creating_the_consumer_at_once_both_get_it(nats):
    await provision_stream(nats, INTAKE)
    await write_journeys(JetStreamEventStore(nats, INTAKE, contracts), clients=2)
    common = {"filter_subjects": [INTAKE.all_subjects], "description": "test"}
    for _ in range(5):
        # Each replica read the shared checkpoint at a slightly different moment.
        made = await asyncio.gather(
            reconcile_durable(nats, "INTAKE", "race", start_after=3, **common),
            reconcile_durable(nats, "INTAKE", "race", start_after=5, **common),
        )
        assert made[0]["created"] == made[1]["created"]  # one consumer, used by both
        await js_api(nats, "CONSUMER.DELETE.INTAKE.race")


async def test_a_drifted_consumer_is_updated_in_place_keeping_its_place(nats):
    await provision_stream(nats, INTAKE)
    await write_journeys(JetStreamEventStore(nats, INTAKE, contracts), clients=2)
    common = {"filter_subjects": [INTAKE.all_subjects], "description": "test"}
    before = await reconcile_durable(nats, "INTAKE", "drift", start_after=4, max_ack_pending=50, **common)
    after = await reconcile_durable(nats, "INTAKE", "drift", start_after=4, max_ack_pending=1, **common)
    assert after["config"]["max_ack_pending"] == 1
    assert after["created"] == before["created"] and after["config"]["opt_start_seq"] == 5


async def test_recovering_never_takes_a_live_replicas_messages_in_flight(nats):
    await provision_stream(nats, INTAKE)
    await write_journeys(JetStreamEventStore(nats, INTAKE, contracts), clients=2)
    common = {"filter_subjects": [INTAKE.all_subjects], "description": "test", "ack_wait_s": 30}
    made = await reconcile_durable(nats, "INTAKE", "peer", start_after=0, **common)
    inbox = nats.new_inbox()
    sub = await nats.subscribe(inbox)
    await nats.publish("$JS.API.CONSUMER.MSG.NEXT.INTAKE.peer", b'{"batch": 2, "expires": %d}' % NS, reply=inbox)
    for _ in range(2):
        await sub.next_msg(timeout=5)  # a live replica holds these two
    await sub.unsubscribe()
    kept = await reconcile_durable(nats, "INTAKE", "peer", start_after=0, at_start=False, **common)
    assert kept["created"] == made["created"]
    assert (await consumer_info(nats, "INTAKE", "peer"))["num_ack_pending"] == 2
    # At start-up the same state means a process died holding them: redelivered first, in order.
    fresh = await reconcile_durable(nats, "INTAKE", "peer", start_after=0, at_start=True, **common)
    assert fresh["created"] != made["created"] and fresh["num_ack_pending"] == 0
