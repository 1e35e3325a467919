"""The ops tool knows every service: its projections, its reactions, and how to find a client's events."""

import importlib

import pytest
from baton_ops.catalogue import (
    find_projection,
    UsageError,
    find_owner,
    parts_of,
    projections_of,
    reaction_names,
    service,
    wired_reactions,
)
from baton_ops.journey import CLIENT_AGGREGATE, LINKS, NOT_ABOUT_CLIENTS
from baton_shared.contracts import STREAMS, registry
from baton_shared.service.settings import BatonSettings

from tests.conftest import missing


def _package_projections(name: str):
    try:
        module = importlib.import_module(f"baton_{name}.projections")
    except ModuleNotFoundError:
        return None
    make = getattr(module, "all_projections", None)
    return None if make is None else make()


@pytest.mark.parametrize("name", list(STREAMS))
def test_every_service_s_projections_are_in_the_catalogue(name):
    built = _package_projections(name)
    if built is None:
        missing(f"{name}'s projections (baton_{name}.projections)")  # a skip, except in CI
    assert {p.name for p in built} <= {p.name for p in projections_of(name)}, (
        f"baton_{name}.composition.parts misses some of {name}'s projections"
    )


@pytest.mark.parametrize("name", list(STREAMS))
def test_the_ops_tool_sees_what_the_service_runs(name, tmp_path):
    """One door: the runtime and the ops tool both take the composition root's parts."""
    try:
        composition = importlib.import_module(f"baton_{name}.composition")
    except ModuleNotFoundError:
        missing(f"{name}'s composition root (baton_{name}.composition)")  # a skip, except in CI
    settings = BatonSettings(database_url="sqlite+aiosqlite://", data_dir=tmp_path, log_level="WARNING")
    runs = composition.create_app(settings).state.runtime.parts
    seen = parts_of(name)
    assert [p.name for p in runs.projections] == [p.name for p in seen.projections]
    assert sorted(r.name for r in runs.reactions) == sorted(r.name for r in seen.reactions) == reaction_names(name)
    assert runs.reactions or name == "notify"  # notify delivers in its own loop, without reactions
    assert runs.streams()[0].name == seen.stream.name
    assert {s.name for s in runs.streams()} == {s.name for s in seen.streams()}


@pytest.mark.parametrize("name", list(STREAMS))
async def test_every_reaction_the_service_wires_can_be_retried(name, tmp_path, monkeypatch):
    try:
        importlib.import_module(f"baton_{name}.composition")
    except ModuleNotFoundError:
        missing(f"{name}'s composition root (baton_{name}.composition)")  # a skip, except in CI
    monkeypatch.setenv(f"BATON_{name.upper()}_DATABASE_URL", f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite3'}")
    async with wired_reactions(service(name)) as (reactions, _engine):
        assert sorted(reactions) == reaction_names(name)
        for reaction in reactions:
            assert find_owner(f"{name}.reaction.{reaction}").reaction == reaction


def test_every_aggregate_type_is_reachable_from_a_client():
    """`baton trace` and `--client` find a client's aggregates by its id or through LINKS."""
    types = {cls.aggregate_type for cls in registry.types() if hasattr(cls, "aggregate_type")} - NOT_ABOUT_CLIENTS
    assert types - {CLIENT_AGGREGATE} <= set(LINKS), (
        f"no link leads from a client to {types - {CLIENT_AGGREGATE} - set(LINKS)}"
    )
    for link in LINKS.values():
        cls = registry.get(link.event_type)
        assert (
            cls is not None
            and cls.service == link.service
            and link.field in cls.model_fields
            and "client_id" in cls.model_fields
        )
        if link.indexed_by:  # the projection `baton trace` asks instead of reading every link event
            _, projection = find_projection(f"{link.service}.{link.indexed_by}")
            assert {"client_id", link.field} <= set(projection.table.c.keys())
            assert any(index.columns.keys()[0] == "client_id" for index in projection.table.indexes), link


def test_owners_are_resolved_or_refused():
    assert find_owner("intake.clients").projection.name == "clients"
    copy = find_owner("intake.clients__rebuild").projection
    assert copy.suffix == "__rebuild" and copy.table.name == "clients__rebuild"
    for bad, message in [
        ("billing.x", "unknown service 'billing'"),
        ("intake.nothing", "unknown projection 'intake.nothing'"),
        ("delivery.reaction.nothing", "unknown reaction 'delivery.reaction.nothing'"),
    ]:
        with pytest.raises(UsageError, match=message):
            find_owner(bad)


def test_a_direct_gets_reply_keeps_its_stored_time_to_the_nanosecond():
    from nats.aio.msg import Msg

    from baton_ops.event_log import raw_event

    headers = {"Nats-Sequence": "42", "Nats-Subject": "intake.client.c1.ClientRegistered"}
    msg = Msg(None, data=b"{}", headers={**headers, "Nats-Time-Stamp": "2026-12-04T06:00:01.123456789Z"})
    raw = raw_event(msg)
    assert (raw.seq, raw.subject, raw.data) == (42, "intake.client.c1.ClientRegistered", b"{}")
    assert raw.timestamp_ns == 1_796_364_001_123_456_789
    whole = raw_event(Msg(None, data=b"", headers={**headers, "Nats-Time-Stamp": "2026-12-04T06:00:01Z"}))
    assert whole.timestamp_ns == 1_796_364_001_000_000_000
