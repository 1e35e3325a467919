"""A reaction's causes split into partitions by target, the partitions shared out among replicas.

Each replica has its own connection and its runners, one per partition, as a process would;
they share the consumers (same names) and the database."""

from __future__ import annotations

import asyncio
import collections
import contextlib

import nats as nats_py
import pytest

from baton_shared.contracts import STREAMS
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import consumer_info, js_api, provision_stream
from baton_shared.reactions import partitions as partitioning
from baton_shared.reactions.partitions import PartitionedReaction
from baton_shared.reactions.runner import ReactionRunner, durable_name, partition_of
from tests.integration.journeys import write_journeys
from tests.integration.services import eventually
from tests.integration.test_scale_out import (
    INTAKE,
    NoteCausesPerRequest,
    SlowReplica,
    _causes,
    _delivery_has,
    _noted_once_each_and_in_order,
    registry,
)

pytestmark = pytest.mark.nats
PARTITIONS = 4


@pytest.fixture(autouse=True)
def quick_balancing(monkeypatch):
    monkeypatch.setattr(partitioning, "BALANCE_SECONDS", 0.3)
    monkeypatch.setattr(partitioning, "COOL_OFF_SECONDS", 1.0)


class Replica:
    """One process's runners of the reaction, one per partition, and the connection they share."""

    def __init__(self, nc, engine, partitions: int = PARTITIONS, **timing) -> None:
        store = JetStreamEventStore(nc, STREAMS["delivery"], registry)
        self.nc = nc
        self.group = PartitionedReaction(
            [
                SlowReplica(
                    NoteCausesPerRequest(),
                    store,
                    registry,
                    engine,
                    service="delivery",
                    partition=k,
                    partitions=partitions,
                    **timing,
                )
                for k in range(partitions)
            ]
        )
        self.stopped = False
        self.balancing: asyncio.Task | None = None

    async def start(self) -> None:
        for runner in self.group.runners:
            await runner.setup()
            await runner.prepare_live(self.nc)
            await runner.start_live(self.nc)
        self.balancing = asyncio.create_task(self.group.balance_forever(self.nc, lambda: self.stopped))

    async def stop(self) -> None:
        self.stopped = True
        if self.balancing is not None:
            self.balancing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.balancing
        for runner in self.group.runners:
            await runner.stop_live()

    @property
    def handled(self) -> int:
        return sum(r.handled for r in self.group.runners)

    def held(self) -> set[int]:
        return {r.partition for r in self.group.held()}


def test_a_target_always_lands_in_the_same_partition_and_targets_spread():
    targets = [("request", f"r-{n}") for n in range(4000)]
    first = [partition_of(t, PARTITIONS) for t in targets]
    assert first == [partition_of(t, PARTITIONS) for t in targets]  # no salted hash
    counts = collections.Counter(first)
    assert set(counts) == set(range(PARTITIONS)) and min(counts.values()) > 800, counts
    assert partition_of(("seq", 17), PARTITIONS) == 0  # no target: the first partition parks or ignores it
    assert {partition_of(t, 1) for t in targets} == {0}
    assert durable_name("delivery", "intake_requests") == "delivery_react_intake_requests"  # unchanged for 1
    assert durable_name("delivery", "intake_requests", 1, 4) == "delivery_react_intake_requests_p2of4"
    assert partitioning.fair_share(4, 1) == 4 and partitioning.fair_share(4, 2) == 2
    assert partitioning.fair_share(4, 3) == 2 and partitioning.fair_share(4, 8) == 1


async def test_replicas_share_the_partitions_and_each_requests_causes_are_handled_once_in_order(nats, nats_url, engine):
    """Pins go to whichever replica asks first, so one replica may hold every partition; the
    others are waiting, so it hands the extras over. Both then handle causes, each request's in
    stream order, each cause once."""
    for spec in (INTAKE, STREAMS["delivery"]):
        await provision_stream(nats, spec)
    connections = [nats, await nats_py.connect(nats_url)]
    first, second = (Replica(nc, engine) for nc in connections)
    try:
        await first.start()
        await second.start()
        intake = JetStreamEventStore(nats, INTAKE, registry)
        await write_journeys(intake, clients=40, seed=21)
        causes = await _causes(nats)
        await eventually(lambda: _delivery_has(nats, len(causes)), timeout=60, what="every cause handled")
        await eventually(lambda: _holds_each(first, second, PARTITIONS // 2), timeout=20, what="two partitions each")
        assert first.handled > 0 and second.handled > 0, (first.handled, second.handled)
        assert first.handled + second.handled == len(causes)  # by one partition's runner, once
    finally:
        for replica in (first, second):
            await replica.stop()
        await connections[1].close()
    await _noted_once_each_and_in_order(nats, causes)


async def test_a_replica_that_dies_leaves_its_partitions_to_the_others_with_nothing_lost_or_doubled(
    nats, nats_url, engine
):
    """Two replicas hold two partitions each; one dies mid-run (no hand-over, no ack, no word):
    the survivor is pinned on its partitions, their causes in flight come back to it, and every
    cause is handled once, each request's in order."""
    for spec in (INTAKE, STREAMS["delivery"]):
        await provision_stream(nats, spec)
    connections = [await nats_py.connect(nats_url) for _ in range(2)]
    timing = {"ack_wait_s": 1.5, "priority_timeout_s": 1.5}
    survivor, doomed = (Replica(nc, engine, **timing) for nc in connections)
    try:
        await survivor.start()
        await doomed.start()
        intake = JetStreamEventStore(nats, INTAKE, registry)
        writing = asyncio.create_task(write_journeys(intake, clients=48, seed=31))
        await eventually(lambda: _handled_more(doomed, 0), timeout=30, what="the doomed one handling")
        assert not writing.done()  # it dies mid-run
        doomed.stopped = True
        doomed.balancing.cancel()
        await connections[1].close()  # its process dies
        await writing
        causes = await _causes(nats)
        await eventually(lambda: _delivery_has(nats, len(causes)), timeout=60, what="the survivor took over")
        assert survivor.held() == set(range(PARTITIONS))
    finally:
        await survivor.stop()
        for runner in doomed.group.runners:
            runner.stopping = True
        for nc in connections:
            if not nc.is_closed:
                await nc.close()
    await _noted_once_each_and_in_order(nats, causes)


async def test_a_new_partitioning_starts_where_the_old_consumer_stood(nats, engine):
    """Going from one consumer to four: the four start after what the one handled, so the log's
    causes are not handled again (a 10M-event log would otherwise be read again per partition)."""
    for spec in (INTAKE, STREAMS["delivery"]):
        await provision_stream(nats, spec)
    intake = JetStreamEventStore(nats, INTAKE, registry)
    await write_journeys(intake, clients=6, seed=41)
    before = await _causes(nats)
    single = ReactionRunner(
        NoteCausesPerRequest(),
        JetStreamEventStore(nats, STREAMS["delivery"], registry),
        registry,
        engine,
        service="delivery",
    )
    await single.setup()
    await single.prepare_live(nats)
    await single.start_live(nats)
    try:
        await eventually(lambda: _delivery_has(nats, len(before)), timeout=30, what="the single consumer done")
        await eventually(lambda: _acked_all(nats, single.durable), timeout=10, what="its acknowledgements")
    finally:
        await single.stop_live()
    replica = Replica(nats, engine)
    await replica.start()
    try:
        for runner in replica.group.runners:
            info = await consumer_info(nats, "INTAKE", runner.durable)
            assert int(info["num_pending"]) == 0, (runner.durable, info["num_pending"])  # nothing to hand again
        await write_journeys(intake, clients=6, seed=42)
        causes = await _causes(nats)
        await eventually(lambda: _delivery_has(nats, len(causes)), timeout=30, what="the new causes handled")
        assert replica.handled == len(causes) - len(before)
    finally:
        await replica.stop()
    await _noted_once_each_and_in_order(nats, causes)


async def _holds(replica: Replica, n: int) -> bool:
    return len(replica.held()) == n


async def _holds_each(a: Replica, b: Replica, n: int) -> bool:
    return len(a.held()) == n and len(b.held()) == n


async def _handled_more(replica: Replica, than: int) -> bool:
    return replica.handled > than + 3


async def _acked_all(nats, durable: str) -> bool:
    info = await js_api(nats, f"CONSUMER.INFO.INTAKE.{durable}")
    return info["num_ack_pending"] == 0 and info["num_pending"] == 0
