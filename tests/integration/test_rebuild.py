"""Rebuilding a projection from the log while the service keeps serving."""

import asyncio

import httpx
import pytest
from asgi_lifespan import LifespanManager
from sqlalchemy import select

from baton_shared.contracts import STREAMS, registry
from baton_shared.eventstore.reader import RawEvent
from baton_shared.projections.checkpoints import checkpoints
from baton_shared.projections.parts import Part, parts_of, parts_under_way
from baton_shared.projections import rebuild as rebuild_module
from baton_shared.projections.rebuild import ProjectionRebuild, point_in_time
from baton_shared.projections.split_rebuild import ChildPart, PartFailed, PartJob
from baton_shared.service.settings import BatonSettings
from baton_intake.composition import create_app
from baton_intake.projections import ClientsProjection, RequestsProjection
from tests.integration.services import ADMIN, TEST_TOKENS, eventually

pytestmark = pytest.mark.nats
SPEC = STREAMS["intake"]


@pytest.fixture
async def intake(nats, nats_url, database_url, tmp_path):
    app = create_app(
        BatonSettings(
            nats_url=nats_url, database_url=database_url, data_dir=tmp_path, log_level="WARNING", tokens=TEST_TOKENS
        )
    )
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=ADMIN
        ) as api:
            yield app, api


async def write_clients(api, n: int, tag: str = "c") -> int:
    last = 0
    for i in range(n):
        r = await api.post("/v1/clients", json={"name": f"{tag}{i:03}", "segment": "B2B", "account_manager": "alice"})
        cid = r.json()["ids"]["client_id"]
        note = await api.post(f"/v1/clients/{cid}/notes", json={"text": f"nuance {i}"})
        req = await api.post(f"/v1/clients/{cid}/requests", json={"summary": "x"})
        last = max(note.json()["position"]["seq"], req.json()["position"]["seq"])
    return last


async def table_rows(engine, projection) -> dict:
    out = {}
    async with engine.connect() as conn:
        for table in projection.metadata.sorted_tables:
            rows = await conn.execute(select(table).order_by(*table.primary_key.columns))
            out[table.name.removesuffix(projection.suffix)] = [dict(r) for r in rows.mappings()]
    return out


async def fresh_copy(app, nats, make, at: int, suffix: str):
    runtime = app.state.runtime
    copy = await point_in_time("intake", lambda s: make(suffix), runtime.engine, nats, SPEC, registry, at)
    return copy.copy


async def test_rebuild_while_taking_writes_misses_nothing_and_keeps_reads_answering(intake, nats):
    app, api = intake
    runtime = app.state.runtime
    await write_clients(api, 30)
    stop = asyncio.Event()
    read_codes: list[int] = []

    async def keep_writing():
        n = 0
        while not stop.is_set():
            await write_clients(api, 1, tag=f"w{n}-")
            n += 1

    async def keep_reading():
        while not stop.is_set():
            read_codes.append((await api.get("/v1/clients", params={"limit": 5})).status_code)
            await asyncio.sleep(0.005)

    tasks = [asyncio.create_task(keep_writing()), asyncio.create_task(keep_reading())]
    job = ProjectionRebuild("intake", ClientsProjection, runtime.engine, SPEC, registry)
    await job.build(nats)
    verification = await job.swap(nats)
    await asyncio.sleep(0.2)  # let writes land on the swapped tables too (bounded, not a wait for a condition)
    stop.set()
    await asyncio.gather(*tasks)
    assert verification.keys_agree and all(v["differing_rows"] == 0 for v in verification.tables.values())
    assert read_codes and set(read_codes) == {200}

    head = await runtime.store.head()
    await eventually(lambda: _at(runtime, "clients", head), what="live projection at the head after the swap")
    live = runtime.projections["clients"].projection
    reference = await fresh_copy(app, nats, ClientsProjection, head, "__reference")
    assert await table_rows(runtime.engine, live) == await table_rows(runtime.engine, reference)
    assert await job.exists() is None
    # The service goes on writing and projecting into the swapped tables.
    last = await write_clients(api, 2, tag="after")
    assert (await api.get("/v1/clients", params={"min_position": last, "limit": 200})).json()["total"] >= 33


async def _at(runtime, name, seq):
    return runtime.projections[name].position >= seq


async def test_an_interrupted_rebuild_leaves_the_live_projection_as_it_was(intake, nats):
    app, api = intake
    runtime = app.state.runtime
    await write_clients(api, 20)
    head = await runtime.store.head()
    await eventually(lambda: _at(runtime, "requests", head), what="live projection at the head")
    live = runtime.projections["requests"].projection
    before = await table_rows(runtime.engine, live)
    async with runtime.engine.connect() as conn:
        live_checkpoint = await conn.scalar(
            select(checkpoints.c.last_seq).where(checkpoints.c.projection == "intake.requests")
        )

    job = ProjectionRebuild("intake", RequestsProjection, runtime.engine, SPEC, registry)

    class Interrupted(Exception):
        pass

    def interrupt(position, end):
        raise Interrupted

    with pytest.raises(Interrupted):
        await job.runner.setup()
        await job.runner.catch_up(nats, batch_size=10, progress=interrupt)
    assert await table_rows(runtime.engine, live) == before
    async with runtime.engine.connect() as conn:
        assert (
            await conn.scalar(select(checkpoints.c.last_seq).where(checkpoints.c.projection == "intake.requests"))
            == live_checkpoint
        )
    assert await job.exists() == 10

    resumed = ProjectionRebuild("intake", RequestsProjection, runtime.engine, SPEC, registry)
    await resumed.build(nats)
    verification = await resumed.swap(nats)
    assert verification.keys_agree
    assert await table_rows(runtime.engine, live) == before


async def test_a_point_in_time_copy_stops_there_and_never_swaps(intake, nats):
    app, api = intake
    runtime = app.state.runtime
    first = await write_clients(api, 5, tag="early")
    last = await write_clients(api, 5, tag="late")
    copy = await point_in_time("intake", ClientsProjection, runtime.engine, nats, SPEC, registry, first)
    rows = (await table_rows(runtime.engine, copy.copy))["clients"]
    assert sorted(r["name"] for r in rows) == [f"early{i:03}" for i in range(5)]
    live = (await api.get("/v1/clients", params={"limit": 200, "min_position": last})).json()
    assert live["total"] == 10
    assert [t.name for t in copy.copy.metadata.sorted_tables] == [f"clients__at_{first}"]


async def test_rebuilding_one_client_replaces_only_its_rows_while_the_service_serves(
    intake, nats, nats_url, database_url
):
    from sqlalchemy import update

    from tests.integration.test_ops_cli import as_json, baton

    app, api = intake
    runtime = app.state.runtime
    ids = []
    for tag in ("mended", "untouched"):
        r = await api.post("/v1/clients", json={"name": tag, "segment": "B2B", "account_manager": "alice"})
        ids.append(r.json()["ids"]["client_id"])
        for n in range(3):
            note = await api.post(f"/v1/clients/{ids[-1]}/notes", json={"text": f"{tag} {n}"})
    mended, untouched = ids
    await eventually(
        lambda: _at(runtime, "clients", note.json()["position"]["seq"]), what="clients projection at the notes"
    )
    live = runtime.projections["clients"].projection
    # A bug left both clients' rows wrong; the rebuild mends the one it is asked to.
    async with runtime.engine.begin() as conn:
        await conn.execute(update(live.table).values(name="WRONG", notes=[]))

    stop = asyncio.Event()
    read_codes: list[int] = []

    async def keep_writing():
        n = 0
        while not stop.is_set():
            await write_clients(api, 1, tag=f"w{n}-")
            n += 1

    async def keep_reading():
        while not stop.is_set():
            read_codes.append((await api.get(f"/v1/clients/{mended}")).status_code)
            await asyncio.sleep(0.005)

    tasks = [asyncio.create_task(keep_writing()), asyncio.create_task(keep_reading())]
    env = {"BATON_NATS_URL": nats_url, "BATON_INTAKE_DATABASE_URL": database_url}
    result = await asyncio.to_thread(
        baton, env, "projections", "rebuild", "intake.clients", "--client", mended, "--json"
    )
    stop.set()
    await asyncio.gather(*tasks)
    outcome = as_json(result)
    assert outcome["replaced"] and outcome["applied"] == 4  # registered + three notes
    table = outcome["verification"]["tables"]["clients"]
    assert table["live_rows"] == table["copy_rows"] == 1 and table["differing_rows"] == 1
    assert read_codes and set(read_codes) == {200}

    head = await runtime.store.head()
    await eventually(lambda: _at(runtime, "clients", head), what="live projection at the head")
    reference = await fresh_copy(app, nats, ClientsProjection, head, "__reference")
    rows = {r["client_id"]: r for r in (await table_rows(runtime.engine, live))["clients"]}
    fresh = {r["client_id"]: r for r in (await table_rows(runtime.engine, reference))["clients"]}
    assert rows[mended] == fresh[mended]
    assert rows[untouched]["name"] == "WRONG" and rows[untouched]["notes"] == []
    assert len(rows) == len(fresh)  # nobody else's rows were touched or lost
    async with runtime.engine.connect() as conn:  # the scratch tables are gone
        names = await conn.run_sync(lambda c: __import__("sqlalchemy").inspect(c).get_table_names())
    assert not [n for n in names if n.endswith("__client")]


async def test_verify_finds_a_live_row_that_differs_from_a_clean_rebuild_and_leaves_nothing_behind(intake, nats):
    from sqlalchemy import delete, func, inspect, update

    from baton_shared.projections.rebuild import VERIFY_SUFFIX

    app, api = intake
    runtime = app.state.runtime
    last = await write_clients(api, 5)
    await api.get("/v1/clients", params={"min_position": last})

    def verify(make):
        return ProjectionRebuild("intake", make, runtime.engine, SPEC, registry, suffix=VERIFY_SUFFIX).verify(nats)

    at, clean = await verify(ClientsProjection)
    assert at >= last and clean.rows_agree and clean.tables["clients"]["live_rows"] == 5

    live = ClientsProjection().metadata.tables["clients"]
    async with runtime.engine.begin() as conn:  # a fold that went wrong on one row
        victim = await conn.scalar(select(live.c.client_id).order_by(live.c.client_id).limit(1))
        await conn.execute(update(live).where(live.c.client_id == victim).values(name="Tampered"))
    _, changed = await verify(ClientsProjection)
    assert changed.keys_agree and not changed.rows_agree and changed.tables["clients"]["differing_rows"] == 1

    async with runtime.engine.begin() as conn:  # a row the log does not explain
        await conn.execute(delete(live).where(live.c.client_id == victim))
    _, missing = await verify(ClientsProjection)
    assert not missing.keys_agree and missing.tables["clients"]["live_rows"] == 4
    assert missing.tables["clients"]["copy_rows"] == 5

    async with runtime.engine.connect() as conn:  # the throwaway copy is gone, its checkpoint too
        tables = await conn.run_sync(lambda c: inspect(c).get_table_names())
        left = await conn.scalar(
            select(func.count()).select_from(checkpoints).where(checkpoints.c.projection.like("%__verify"))
        )
    assert not [t for t in tables if t.endswith(VERIFY_SUFFIX)] and left == 0


# --- a rebuild folded in parts, side by side -------------------------------------


class InterruptedInParts(Exception):
    pass


def interrupt_in_parts(position: int, end: int) -> None:
    raise InterruptedInParts


@pytest.fixture
def split_small(monkeypatch):
    """Split even the few events a test writes (a real rebuild splits from 100,000)."""
    monkeypatch.setattr(rebuild_module, "SPLIT_FROM_EVENTS", 1)


async def interrupted_build(runtime, nats, parts: int, make=ClientsProjection) -> ProjectionRebuild:
    """A rebuild of intake's clients asked to fold in ``parts``, stopped after its first batch."""
    job = ProjectionRebuild("intake", make, runtime.engine, SPEC, registry)
    with pytest.raises(InterruptedInParts):
        await job.build(nats, parts=parts, progress=interrupt_in_parts)
    return job


async def parts_left(engine, job: ProjectionRebuild) -> list[Part]:
    async with engine.connect() as conn:
        return await parts_under_way(conn, job.runner.key)


async def test_a_rebuild_in_parts_holds_exactly_what_one_process_folds(intake, nats, split_small):
    app, api = intake
    runtime = app.state.runtime
    await write_clients(api, 40)
    head = await runtime.store.head()
    job = ProjectionRebuild("intake", ClientsProjection, runtime.engine, SPEC, registry)
    assert job.splits() == (runtime.engine.dialect.name == "postgresql")  # SQLite has one writer

    assert await job.build(nats, parts=2) == head
    assert await job.exists() == head
    assert await parts_left(runtime.engine, job) == []
    reference = await fresh_copy(app, nats, ClientsProjection, head, "__reference")
    rebuilt = await table_rows(runtime.engine, job.copy)
    assert len(rebuilt["clients"]) == 40
    assert rebuilt == await table_rows(runtime.engine, reference)
    verification = await job.swap(nats)
    assert verification.rows_agree


async def test_an_interrupted_rebuild_in_parts_goes_on_in_the_same_parts(intake, nats, split_small):
    app, api = intake
    runtime = app.state.runtime
    await write_clients(api, 20)
    job = await interrupted_build(runtime, nats, parts=3)
    split = job.splits()
    assert await parts_left(runtime.engine, job) == (parts_of(3) if split else [])

    await write_clients(api, 5, tag="later")
    head = await runtime.store.head()
    resumed = ProjectionRebuild("intake", ClientsProjection, runtime.engine, SPEC, registry)
    await resumed.build(nats)  # one part asked for: the three under way finish
    assert await parts_left(runtime.engine, resumed) == []
    assert await resumed.exists() == head
    reference = await fresh_copy(app, nats, ClientsProjection, head, "__reference")
    assert await table_rows(runtime.engine, resumed.copy) == await table_rows(runtime.engine, reference)


async def test_a_projection_made_by_a_function_is_folded_in_parts_in_this_process(intake, nats, split_small):
    app, api = intake
    runtime = app.state.runtime
    await write_clients(api, 15)
    head = await runtime.store.head()
    job = await interrupted_build(runtime, nats, parts=2, make=lambda suffix: ClientsProjection(suffix))
    assert await parts_left(runtime.engine, job) == (parts_of(2) if job.splits() else [])
    await job.build(nats)
    reference = await fresh_copy(app, nats, ClientsProjection, head, "__reference")
    assert await table_rows(runtime.engine, job.copy) == await table_rows(runtime.engine, reference)


async def test_a_short_rebuild_is_folded_in_one_process_whatever_the_parts(intake, nats):
    app, api = intake
    runtime = app.state.runtime
    await write_clients(api, 5)
    job = await interrupted_build(runtime, nats, parts=2)
    assert await parts_left(runtime.engine, job) == []
    assert await job.exists() == await runtime.store.head()


async def test_a_part_that_fails_in_its_process_is_reported():
    job = PartJob(
        "intake", ("baton_nowhere", "Nothing"), "__rebuild", "sqlite+aiosqlite://", SPEC, Part(0, 1000), (700, 10, 10)
    )
    child = ChildPart(job)
    try:
        with pytest.raises(PartFailed, match="ModuleNotFoundError"):
            await child.send([RawEvent(1, "intake.client.c1.ClientRegistered", b"{}", 0)])
            await child.finish()
    finally:
        child.stop()
