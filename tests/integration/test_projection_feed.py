"""A service's projections of one stream fed live by one consumer (SQLite and PostgreSQL)."""

import pytest
from sqlalchemy import event, select

from baton_intake.application import AddClientNote, IntakeApplication
from baton_shared.contracts import STREAMS, registry
from baton_shared.eventstore.provisioning import js_api
from baton_shared.eventstore.reader import read_stream
from baton_shared.projections import ProjectionRunner
from baton_shared.projections.checkpoints import parked_events
from baton_shared.projections.client_managers import ClientManagers
from baton_shared.projections.feed import ProjectionFeed
from tests.integration.journeys import write_journeys
from tests.integration.test_projections import rows, runners

pytestmark = pytest.mark.nats
SPEC = STREAMS["intake"]


async def reference(engine, nats, suffix: str = "_ref") -> list[ProjectionRunner]:
    built = await runners(engine, suffix=suffix)
    for runner in built:
        await runner.catch_up(nats)
    return built


async def applied_by_all(store, members) -> int:
    """Wait until every member has applied the stream's head; returns the head."""
    head = await store.head()
    for member in members:
        assert await member.wait_for(head, timeout=20), member.status()
    return head


async def test_projections_at_different_checkpoints_share_one_consumer_and_equal_a_build_in_one_go(store, nats, engine):
    await write_journeys(store, clients=6)
    head = await store.head()
    members = await runners(engine)
    # Where each stands when the feed starts: one at the head, one half-way, one at nothing.
    await members[0].catch_up(nats)
    await members[1].catch_up(nats, until=head // 2)
    await members[0].prepare_live(nats)  # a consumer of its own, as before feeds
    feed = ProjectionFeed(members, service="intake")
    await feed.prepare_live(nats)
    await feed.start_live(nats)
    try:
        await write_journeys(store, clients=6, seed=5)
        head = await store.head()
        for member in members:
            assert await member.wait_for(head, timeout=20), member.status()
            assert member.status()["live"]
    finally:
        await feed.stop_live()
    names = (await js_api(nats, f"CONSUMER.NAMES.{SPEC.name}"))["consumers"]
    assert names == ["intake_projections_intake"]  # the per-projection consumer is gone
    for member, ref in zip(members, await reference(engine, nats), strict=True):
        assert await member.stored_checkpoint() == head
        assert await rows(engine, member) == await rows(engine, ref)


async def test_a_live_feed_writes_on_one_connection_and_gives_it_back_at_stop(store, nats, engine):
    members = await runners(engine)
    feed = ProjectionFeed(members, service="intake")
    await feed.prepare_live(nats)
    await feed.start_live(nats)
    checkouts, batches = [], []
    event.listen(engine.sync_engine, "checkout", lambda *_: checkouts.append(1))
    real_apply = feed.apply

    async def counted(raws, *rest):
        batches.append(len(raws))
        await real_apply(raws, *rest)

    feed.apply = counted
    try:
        for seed in range(10):  # one journey at a time, each applied before the next is written
            await write_journeys(store, clients=1, seed=seed)
            await applied_by_all(store, members)
    finally:
        await feed.stop_live()
    assert len(batches) >= 10
    # One connection kept for the feed's batches; the few others are checkpoints stored later.
    assert len(checkouts) < len(batches) / 2, (len(checkouts), len(batches))
    assert engine.sync_engine.pool.checkedout() == 0


async def test_a_batch_is_one_transaction_across_the_projections(store, nats, engine):
    await write_journeys(store, clients=2)
    members = await runners(engine)
    feed = ProjectionFeed(members, service="intake")
    batch = [raw async for b in read_stream(nats, SPEC.name, batch_size=1000) for raw in b]
    last = members[-1]
    real_apply = last.projection.apply

    def fail(conn, events):
        raise RuntimeError("disk full half-way")

    last.projection.apply = fail
    with pytest.raises(RuntimeError):
        await feed.apply(batch)
    for member in members:  # the projections written before the failure are rolled back too
        assert await member.stored_checkpoint() == 0
        assert all(not table_rows for table_rows in (await rows(engine, member)).values())
    last.projection.apply = real_apply
    await feed.apply(batch)
    for member, ref in zip(members, await reference(engine, nats), strict=True):
        assert member.position == batch[-1].seq
        assert await rows(engine, member) == await rows(engine, ref)


async def test_an_event_one_projection_cannot_fold_is_parked_for_it_alone(store, nats, engine):
    ids = await write_journeys(store, clients=3)
    members = await runners(engine, max_attempts=2)
    feed = ProjectionFeed(members, service="intake", max_attempts=2)
    victim = members[0]
    real_apply = victim.projection.apply

    def fails_on_one_client(conn, events):
        if any(e.envelope.aggregate_id == ids[1] for e in events):
            raise ValueError("a fold that cannot handle this client")
        real_apply(conn, events)

    victim.projection.apply = fails_on_one_client
    batch = [raw async for b in read_stream(nats, SPEC.name, batch_size=1000) for raw in b]
    await feed.apply_resilient(batch)
    for member in members:
        assert member.position == batch[-1].seq
    async with engine.connect() as conn:
        parked = (await conn.execute(select(parked_events))).mappings().all()
    victims = [r for r in batch if r.subject.startswith(f"intake.client.{ids[1]}.")]
    assert victims and {p["projection"] for p in parked} == {victim.key}
    assert sorted(p["seq"] for p in parked) == [r.seq for r in victims]
    for member, ref in zip(members[1:], (await reference(engine, nats))[1:], strict=True):
        assert await rows(engine, member) == await rows(engine, ref)


async def test_a_feed_acknowledges_what_it_applied_a_while_later_and_all_of_it_at_stop(
    store, nats, engine, monkeypatch
):
    """Acknowledgements only spare the server redeliveries (the position is the checkpoint), so a
    feed sends one for many batches (ack-all of the newest), and what is waiting at stop."""
    from nats.aio.msg import Msg

    from baton_shared.eventstore.provisioning import consumer_info

    sent = []
    real_ack = Msg.ack

    async def counted(self):
        sent.append(self.reply)
        await real_ack(self)

    monkeypatch.setattr(Msg, "ack", counted)
    members = await runners(engine)
    feed = ProjectionFeed(members, service="intake")
    await feed.prepare_live(nats)
    await feed.start_live(nats)
    batches = 0
    real_on_messages = feed._on_messages

    async def on_messages(msgs):
        nonlocal batches
        batches += 1
        await real_on_messages(msgs)

    feed._loop.handler = on_messages
    try:
        for seed in range(8):  # several appends, delivered as several batches
            await write_journeys(store, clients=1, seed=seed)
        head = await applied_by_all(store, members)
    finally:
        await feed.stop_live()
    info = await consumer_info(nats, SPEC.name, feed.durable)
    assert info["ack_floor"]["stream_seq"] == head and info["num_ack_pending"] == 0
    assert batches > 1 and len(sent) < batches, (batches, len(sent))


class Managers(ClientManagers):
    name = "managers_heard"
    table_name = "managers_heard"


async def managers(engine, suffix: str = "") -> ProjectionRunner:
    projection = Managers(suffix)
    runner = ProjectionRunner(projection, engine, SPEC, registry, service="delivery")
    await runner.setup()
    return runner


def client_events(raws) -> list:
    return [r for r in raws if r.subject.rsplit(".", 1)[1] in ("ClientRegistered", "AccountManagerAssigned")]


async def test_a_feed_whose_projections_name_what_they_fold_is_delivered_only_that(store, nats, engine):
    await write_journeys(store, clients=2)
    runner = await managers(engine)
    feed = ProjectionFeed([runner], service="delivery")
    assert feed.hears == ["intake.*.*.AccountManagerAssigned", "intake.*.*.ClientRegistered"]
    await feed.catch_up(nats)
    before = await store.head()
    await feed.prepare_live(nats)
    await feed.start_live(nats)
    try:
        for seed in range(8):  # one journey at a time, each applied before the next is written
            await write_journeys(store, clients=1, seed=seed)
            head = await store.head()
            assert await runner.wait_for(head, timeout=20), runner.status()
    finally:
        await feed.stop_live()
    after = [raw async for b in read_stream(nats, SPEC.name, start_seq=before + 1) for raw in b]
    info = await js_api(nats, f"CONSUMER.INFO.{SPEC.name}.{feed.durable}")
    assert info["delivered"]["consumer_seq"] == len(client_events(after)) < len(after) / 3
    # Only the first batch's hole (what lies between the catch-up and the consumer's first
    # delivery) is read from the log: later ones follow on by the consumer's own count.
    assert runner.gaps_filled <= 1, runner.status()
    assert runner.position == head and await runner.stored_checkpoint() == head
    reference = await managers(engine, "_ref")
    await reference.catch_up(nats)
    assert await rows(engine, runner) == await rows(engine, reference)


async def test_a_filtered_projection_reaches_a_position_only_when_nothing_it_folds_is_left_before_it(
    store, nats, engine
):
    await write_journeys(store, clients=1)
    runner = await managers(engine)
    feed = ProjectionFeed([runner], service="delivery")
    await feed.catch_up(nats)
    await feed.prepare_live(nats)
    await feed.start_live(nats)
    await feed.stop_live()  # nothing applies what comes next
    position = runner.position
    clients = await write_journeys(store, clients=1, seed=3)  # a client registered, then notes, needs, handoffs
    head = await store.head()
    assert not await runner.wait_for(head, timeout=0.5)  # its ClientRegistered is not applied
    assert runner.position == position
    await feed.prepare_live(nats, at_start=False)
    await feed.start_live(nats)
    try:
        assert await runner.wait_for(head, timeout=20), runner.status()
        await IntakeApplication(store).add_client_note(AddClientNote(client_id=clients[0], text="called back"))
        note_only = await store.head()  # a note: client managers do not fold it, so are not sent it
        assert await runner.wait_for(note_only, timeout=5), runner.status()  # never sent, yet reached
    finally:
        await feed.stop_live()
    assert runner.position == note_only


async def test_an_event_to_fold_that_went_to_another_replica_long_ago_is_read_from_the_log(store, nats, engine):
    await write_journeys(store, clients=3)
    runner = await managers(engine)
    feed = ProjectionFeed([runner], service="delivery")  # filtered: it is sent client events alone
    registered = [r.seq for r in client_events([raw async for b in read_stream(nats, SPEC.name) for raw in b])]
    await runner.catch_up(nats, until=registered[0])  # as if the rest went to another replica
    runner.live, runner.head = True, await store.head()
    assert not await runner.read_what_went_elsewhere(older_than_s=3600)  # recent: maybe still on its way
    assert runner.position == registered[0]
    while await runner.read_what_went_elsewhere(older_than_s=0):
        pass
    assert runner.position == registered[-1] and runner.gaps_filled == len(registered) - 1
    assert await runner.pass_unheard(runner.head)  # what is left of the stream folds nothing here
    reference = await managers(engine, "_ref")
    await reference.catch_up(nats)
    assert await rows(engine, runner) == await rows(engine, reference)
    assert feed.hears is not None


async def test_a_filtered_projection_asked_while_a_batch_holds_it_answers_at_once(store, nats, engine):
    """``/health`` and read-your-writes ask a filtered projection whether it reached the head;
    while a batch holds it (a stalled database may, for half a minute) the answer is "not yet"
    at once, not a wait behind the batch."""
    import asyncio
    import time

    await write_journeys(store, clients=1)
    runner = await managers(engine)
    ProjectionFeed([runner], service="delivery")
    await runner.catch_up(nats, until=1)  # the ClientRegistered; needs, notes and handoffs after it
    head = await store.head()
    async with runner._lock:  # as a batch being applied holds it
        started = time.monotonic()
        assert not await asyncio.wait_for(runner.pass_unheard(head), 1)
        assert not await runner.wait_for(head, timeout=0.3)
        assert time.monotonic() - started < 1.5
    assert await runner.wait_for(head, timeout=5) and runner.position == head
