"""Projections on a real stream and a real database (SQLite and PostgreSQL)."""

import asyncio

import pytest
from baton_intake.projections import all_projections
from baton_shared.contracts import STREAMS, registry
from baton_shared.eventstore.provisioning import consumer_info
from baton_shared.eventstore.reader import read_stream
from baton_shared.projections import ProjectionRunner
from baton_shared.projections.checkpoints import checkpoints, parked_events
from sqlalchemy import func, select, update

from tests.integration.journeys import write_journeys

pytestmark = pytest.mark.nats
SPEC = STREAMS["intake"]


async def runners(engine, suffix: str = "", **kw) -> list[ProjectionRunner]:
    out = []
    for projection in all_projections(suffix):
        runner = ProjectionRunner(projection, engine, SPEC, registry, service="intake", **kw)
        await runner.setup()
        out.append(runner)
    return out


async def rows(engine, runner: ProjectionRunner) -> dict[str, list[dict]]:
    """Every row of the runner's tables, by table name without suffix, in key order."""
    out = {}
    async with engine.connect() as conn:
        for table in runner.projection.metadata.sorted_tables:
            keys = [c for c in table.primary_key.columns]
            result = await conn.execute(select(table).order_by(*keys))
            out[table.name.removesuffix(runner.projection.suffix)] = [dict(r) for r in result.mappings()]
    return out


async def test_stopped_mid_stream_and_restarted_equals_built_in_one_go(store, nats, engine):
    await write_journeys(store, clients=15)
    head = await store.head()
    # Stopped half-way (and in small batches), then a fresh runner resumes from the checkpoint.
    for runner in await runners(engine, batch_size=7):
        await runner.catch_up(nats, until=head // 2, batch_size=7)
        assert await runner.stored_checkpoint() == head // 2
    resumed = await runners(engine)
    for runner in resumed:
        await runner.catch_up(nats)
        assert runner.position == head
    one_go = await runners(engine, suffix="_one_go")
    for runner in one_go:
        await runner.catch_up(nats)
    for live, reference in zip(resumed, one_go, strict=True):
        live_rows, reference_rows = await rows(engine, live), await rows(engine, reference)
        assert live_rows == reference_rows
        assert sum(map(len, live_rows.values())) > 0


async def test_dropped_and_rebuilt_equals_the_live_projection(store, nats, engine):
    """The live runners consume their durable consumers while writes happen; a
    rebuild from the log into fresh tables must match them row for row."""
    live = await runners(engine)
    for runner in live:
        await runner.prepare_live(nats)
        await runner.start_live(nats)
    try:
        await write_journeys(store, clients=12, seed=11)
        head = await store.head()
        for runner in live:
            assert await runner.wait_for(head, timeout=20), runner.status()
        assert all(r.gaps_filled == 0 for r in live)  # deliveries came whole
    finally:
        for runner in live:
            await runner.stop_live()
    rebuilt = await runners(engine, suffix="_rebuilt")
    for runner in rebuilt:
        await runner.catch_up(nats)
    for a, b in zip(live, rebuilt, strict=True):
        assert await rows(engine, a) == await rows(engine, b)


async def test_a_restarted_live_consumer_resumes_from_the_checkpoint(store, nats, engine):
    await write_journeys(store, clients=3)
    [clients, *_] = await runners(engine)
    await clients.catch_up(nats)
    await clients.prepare_live(nats)
    info = await consumer_info(nats, SPEC.name, clients.durable)
    assert info["ack_floor"]["stream_seq"] == clients.position  # delivers only what is new
    # The database was reset (e.g. restored from an old backup): the consumer is moved back.
    async with engine.begin() as conn:
        await conn.execute(update(checkpoints).where(checkpoints.c.projection == clients.key).values(last_seq=0))
    clients.position = 0
    await clients.prepare_live(nats)
    info = await consumer_info(nats, SPEC.name, clients.durable)
    assert info["num_pending"] == await store.head()


async def test_redelivered_events_are_ignored(store, nats, engine):
    await write_journeys(store, clients=4)
    [clients, *_] = await runners(engine)
    batches = [b async for b in read_stream(nats, SPEC.name, batch_size=10)]
    for batch in batches:
        await clients.apply(batch)
    before = await rows(engine, clients)
    for batch in batches:  # everything again, as a redelivery would
        assert await clients.apply(batch) == 0
    assert await rows(engine, clients) == before


async def test_a_failing_batch_commits_neither_rows_nor_checkpoint(store, nats, engine):
    await write_journeys(store, clients=2)
    [clients, *_] = await runners(engine)
    batch = [raw async for b in read_stream(nats, SPEC.name, batch_size=1000) for raw in b]
    real_apply = clients.projection.apply

    def apply_then_fail(conn, events):
        real_apply(conn, events)
        raise RuntimeError("disk full half-way")

    clients.projection.apply = apply_then_fail
    with pytest.raises(RuntimeError):
        await clients.apply(batch)
    assert await clients.stored_checkpoint() == 0
    assert (await rows(engine, clients))["clients"] == []
    clients.projection.apply = real_apply
    assert await clients.apply(batch) == len(batch)


async def test_malformed_events_are_parked_and_the_projection_goes_on(store, nats, engine):
    ids = await write_journeys(store, clients=1)
    await nats.request(f"intake.client.{ids[0]}.ClientNoteAdded", b"{not json", timeout=2)
    await nats.request(
        f"intake.client.{ids[0]}.ClientNoteAdded",
        b'{"event_id":"x","event_type":"ClientNoteAdded","schema_version":1,"aggregate_type":"client",'
        b'"aggregate_id":"a","occurred_at":"2026-01-01T00:00:00Z","correlation_id":"c","actor":"a","payload":{"oops":1}}',
        timeout=2,
    )
    await write_journeys(store, clients=1, seed=3)
    [clients, *_] = await runners(engine)
    await clients.catch_up(nats)
    assert clients.position == await store.head()
    async with engine.connect() as conn:
        parked = (await conn.execute(select(parked_events))).mappings().all()
    assert len(parked) == 2 and all(p["projection"] == "intake.clients" for p in parked)
    assert len((await rows(engine, clients))["clients"]) == 2


async def test_unknown_event_types_are_skipped(store, nats, engine):
    ids = await write_journeys(store, clients=1)
    await nats.request(
        f"intake.client.{ids[0]}.SomethingNew",
        b'{"event_id":"x","event_type":"SomethingNew","schema_version":1,"aggregate_type":"client",'
        b'"aggregate_id":"a","occurred_at":"2026-01-01T00:00:00Z","correlation_id":"c","actor":"a","payload":{}}',
        timeout=2,
    )
    [clients, *_] = await runners(engine)
    await clients.catch_up(nats)
    assert clients.position == await store.head()
    async with engine.connect() as conn:
        assert (await conn.execute(select(parked_events))).first() is None


async def test_two_runners_sharing_a_database_never_apply_a_batch_twice(store, nats, engine):
    await write_journeys(store, clients=6)
    [a, *_] = await runners(engine)
    [b, *_] = await runners(engine)
    batches = [x async for x in read_stream(nats, SPEC.name, batch_size=5)]

    async def feed(runner):
        for batch in batches:
            await runner.apply(batch)

    await asyncio.gather(feed(a), feed(b))
    [reference] = (await runners(engine, suffix="_ref"))[:1]
    await reference.catch_up(nats)
    assert await rows(engine, a) == await rows(engine, reference)


async def test_a_batch_a_projection_has_nothing_to_do_with_writes_nothing_and_is_stored_later(store, nats, engine):
    """Only requests' events: the clients projection moves its position without a
    transaction; its checkpoint is stored a moment later (or at the end of a catch-up,
    or at stop), and a restart from it equals a build in one go."""
    import uuid

    from baton_shared.contracts import intake as ev
    from baton_shared.eventstore import NewEvent

    await write_journeys(store, clients=3)
    clients = next(r for r in await runners(engine) if r.projection.name == "clients")
    await clients.catch_up(nats)
    stored = await clients.stored_checkpoint()
    assert stored == clients.position == await store.head()
    cid = str(uuid.uuid4())
    for _ in range(3):  # events of the request aggregate only
        rid = str(uuid.uuid4())
        need = ev.NeedCaptured(request_id=rid, client_id=cid, summary="s")
        await store.append("request", rid, 0, [NewEvent(need, correlation_id=rid, actor="t")])
    head = await store.head()
    raws = [r async for batch in read_stream(nats, SPEC.name, start_seq=stored + 1) for r in batch]
    await clients.apply(raws)
    assert clients.position == head and await clients.stored_checkpoint() == stored  # no transaction
    assert await clients.wait_for(head, timeout=0.1)  # reads of this position need not wait
    await clients.flush_checkpoint()
    assert await clients.stored_checkpoint() == head
    again = next(r for r in await runners(engine, "_again") if r.projection.name == "clients")
    await again.catch_up(nats)
    assert await again.stored_checkpoint() == head  # a catch-up ends stored
    assert await rows(engine, again) == await rows(engine, clients)


async def test_a_checkpoint_found_behind_what_was_applied_is_applied_again_from_the_log(store, nats, engine):
    """The state a PostgreSQL crash leaves (commits with ``synchronous_commit = off`` lost, the
    service running on): the runner believes it stored up to two thirds of the stream, the
    database holds one third. Its next batch finds the checkpoint behind and applies what lies
    between from the log; nothing is left out."""
    await write_journeys(store, clients=12, seed=5)
    head = await store.head()
    crashed = await runners(engine)
    for runner in crashed:
        await runner.catch_up(nats, until=head // 3)
        runner.position = runner._stored = 2 * head // 3  # what it had stored before the crash
    for runner in crashed:
        await runner.catch_up(nats)
        assert runner.position == head and await runner.stored_checkpoint() == head
    one_go = await runners(engine, suffix="_one_go")
    for runner in one_go:
        await runner.catch_up(nats)
    for after_crash, reference in zip(crashed, one_go, strict=True):
        assert await rows(engine, after_crash) == await rows(engine, reference), after_crash.key
        assert after_crash.status()["went_back"] == 1  # reported on /health


async def test_two_runners_sharing_a_database_never_apply_a_batch_over_a_hole_a_short_log_read_left(
    store, nats, engine, monkeypatch
):
    """Cluster fault run, seed 6: rows differed from a clean rebuild. Two replicas share a database
    and a consumer. Replica B applies a stretch, so replica A's next batch finds the checkpoint moved
    past its own and reads what lies between from the log; on a cluster that read can come back short
    (its consumer on a replica that lags). A applied its batch over the hole. Now nothing is applied
    until the log fills it; then the rows equal a build in one go."""
    import baton_shared.projections.runner as runner_module
    from baton_shared.retry import is_transient

    await write_journeys(store, clients=10, seed=6)
    head = await store.head()
    raws = [r async for batch in read_stream(nats, SPEC.name) for r in batch]
    third = head // 3
    a, b = await runners(engine), await runners(engine)
    for runner in a:
        runner.reads_log_with(nats)
        await runner.apply(raws[:third])
    for runner in b:
        runner.position = runner._stored = third
        await runner.apply(raws[third : 2 * third])  # B moves the shared checkpoints on
        assert await runner.stored_checkpoint() == 2 * third

    real = runner_module.read_stream

    def lagging(nc, stream, *, start_seq=1, end_seq=None, **kw):
        """A read answered by a replica that holds the log only up to five events past B's stretch."""
        return real(nc, stream, start_seq=start_seq, end_seq=min(end_seq, 2 * third + 5), **kw)

    monkeypatch.setattr(runner_module, "read_stream", lagging)
    later = raws[2 * third + 10 :]  # A's delivery: B got the ten before it
    for runner in a:
        try:
            await runner.apply(later)
        except Exception as exc:  # noqa: BLE001 - what it is is checked below
            assert is_transient(exc), repr(exc)  # waited out, never parked
        assert await runner.stored_checkpoint() == 2 * third, f"{runner.key}: applied over the hole"
    monkeypatch.setattr(runner_module, "read_stream", real)  # the replica caught up
    for runner in a:
        await runner.apply(later)
        assert await runner.stored_checkpoint() == head
    one_go = await runners(engine, suffix="_one_go")
    for runner in one_go:
        await runner.catch_up(nats)
    for shared, reference in zip(a, one_go, strict=True):
        assert await rows(engine, shared) == await rows(engine, reference), shared.key


async def test_a_quiet_projection_notices_its_checkpoint_went_back_without_a_new_event(store, nats, engine):
    """A PostgreSQL crash lost a projection's last commits while no event came: nothing to write,
    nothing to flush, so nothing compared the stored checkpoint with what was applied. The
    service's periodic look (``notice_went_back``) finds it and applies the log again from there."""
    await write_journeys(store, clients=6, seed=7)
    head = await store.head()
    quiet = await runners(engine)
    for runner in quiet:
        await runner.catch_up(nats, until=head // 2)
        runner.position = runner._stored = head  # what it had stored before the crash
        await runner.flush_checkpoint()
        assert await runner.stored_checkpoint() == head // 2  # a flush alone does not notice
    for runner in quiet:
        assert await runner.notice_went_back() is True
        assert runner.position == head and await runner.stored_checkpoint() == head
        assert await runner.notice_went_back() is False  # once repaired, nothing more to do
    one_go = await runners(engine, suffix="_one_go")
    for runner in one_go:
        await runner.catch_up(nats)
    for repaired, reference in zip(quiet, one_go, strict=True):
        assert await rows(engine, repaired) == await rows(engine, reference), repaired.key
        assert repaired.status()["went_back"] == 1


async def test_sequences_the_log_no_longer_holds_are_passed_not_waited_for(nats, engine):
    """`make bench` stalled for good: its stream had been purged (first sequence 26029), and the
    runner, at 0, took the missing 1..26028 for a replica's short read and waited for them.
    A stream that allows purges and deletes (the bench's; Baton's own deny both): a purged head
    and deleted events inside are passed, in catch-up and live, and nothing else changes."""
    from baton_shared.eventstore.jetstream import JetStreamEventStore
    from baton_shared.eventstore.provisioning import js_api, stream_config

    await js_api(nats, f"STREAM.CREATE.{SPEC.name}", {**stream_config(SPEC), "deny_delete": False, "deny_purge": False})
    store = JetStreamEventStore(nats, SPEC, registry)
    await write_journeys(store, clients=3, seed=1)
    await js_api(nats, f"STREAM.PURGE.{SPEC.name}")
    kept = await write_journeys(store, clients=4, seed=2)
    filler = (
        b'{"event_id":"%d","event_type":"SomethingNew","schema_version":1,"aggregate_type":"client",'
        b'"aggregate_id":"a","occurred_at":"2026-01-01T00:00:00Z","correlation_id":"c","actor":"a","payload":{}}'
    )
    deleted = [(await store.head()) + 1 + 2 * n for n in range(3)]
    for n in range(3):  # an unknown event, deleted below, between two of the kept journeys' events
        await nats.request(f"intake.client.{kept[0]}.SomethingNew", filler % n, timeout=2)
        await write_journeys(store, clients=1, seed=10 + n)
    for seq in deleted:
        await js_api(nats, f"STREAM.MSG.DELETE.{SPEC.name}", {"seq": seq, "no_erase": True})
    head = await store.head()

    caught_up = await runners(engine)
    for runner in caught_up:
        await asyncio.wait_for(runner.catch_up(nats), 30)
        assert runner.position == head and runner.log_gaps_passed > 0, runner.status()
    one_by_one = await runners(engine, suffix="_live")  # live deliveries of one event at a time
    for runner in one_by_one:
        runner.reads_log_with(nats)
        async for batch in read_stream(nats, SPEC.name):
            for raw in batch:
                await asyncio.wait_for(runner.apply([raw]), 30)
        assert runner.position == head
    for a, b in zip(caught_up, one_by_one, strict=True):
        assert await rows(engine, a) == await rows(engine, b), a.key
    assert len((await rows(engine, caught_up[0]))["clients"]) == 4 + 3  # the purged three are gone
    async with engine.connect() as conn:
        assert (await conn.execute(select(parked_events))).first() is None


async def test_a_rebuild_in_parts_passes_a_purged_head_and_is_not_split_over_deleted_events(nats, engine, monkeypatch):
    """The bench's stream had been purged (first sequence 26001): a part in its own process,
    at 0, cannot ask the log what it lacks and parked the first event it was sent. Parts now
    start past a purged head; a log with deleted sequences inside is folded in one process."""
    from baton_intake.projections import ClientsProjection
    from baton_shared.eventstore.jetstream import JetStreamEventStore
    from baton_shared.eventstore.provisioning import js_api, stream_config
    from baton_shared.projections import rebuild as rebuild_module
    from baton_shared.projections.rebuild import ProjectionRebuild

    monkeypatch.setattr(rebuild_module, "SPLIT_FROM_EVENTS", 1)
    await js_api(nats, f"STREAM.CREATE.{SPEC.name}", {**stream_config(SPEC), "deny_delete": False, "deny_purge": False})
    store = JetStreamEventStore(nats, SPEC, registry)
    await write_journeys(store, clients=3, seed=1)
    await js_api(nats, f"STREAM.PURGE.{SPEC.name}")
    await write_journeys(store, clients=4, seed=2)
    head = await store.head()

    job = ProjectionRebuild("intake", ClientsProjection, engine, SPEC, registry)
    assert await job.build(nats, parts=2) > 0
    assert await job.exists() == head
    async with engine.connect() as conn:
        assert (await conn.scalar(select(func.count()).select_from(parked_events))) == 0
    one = next(r for r in await runners(engine, suffix="_one") if r.projection.name == "clients")
    await one.catch_up(nats)
    copy_rows = (await rows(engine, job.runner))["clients"]
    assert len(copy_rows) == 4 and copy_rows == (await rows(engine, one))["clients"]

    await js_api(nats, f"STREAM.MSG.DELETE.{SPEC.name}", {"seq": head, "no_erase": True})
    await write_journeys(store, clients=1, seed=3)
    again = ProjectionRebuild("intake", ClientsProjection, engine, SPEC, registry, suffix="__again")

    def stop(position: int, end: int) -> None:
        raise RuntimeError("stopped")

    with pytest.raises(RuntimeError, match="stopped"):
        await again.build(nats, parts=2, progress=stop)
    async with engine.connect() as conn:
        split = (
            await conn.scalars(select(checkpoints.c.projection).where(checkpoints.c.projection.contains("#")))
        ).all()
    assert split == []  # folded in one process
    await again.build(nats)
    assert await again.exists() == await store.head()
