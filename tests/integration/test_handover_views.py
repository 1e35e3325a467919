"""The request's handover state, owned by delivery, read the same by every service through a reopen.

Four views: delivery's aggregate, delivery's ``request_deliveries``, intake's
``delivery_progress`` (on the request view) and follow-up's ``request_deliveries``.
All on SQLite, or all on PostgreSQL (a database each), with a real NATS.
"""

from __future__ import annotations

import pytest
from baton_delivery.domain.delivery import RequestDelivery
from sqlalchemy import select

from tests.conftest import _ensure_database, _fresh_schema
from tests.integration.services import all_three, eventually
from tests.integration.test_delivery_flow import act, finish, hand_off, new_request

pytestmark = pytest.mark.nats


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def databases(request, tmp_path) -> dict[str, str]:
    names = ("intake", "delivery", "followup")
    if request.param == "sqlite":
        return {name: f"sqlite+aiosqlite:///{tmp_path / f'{name}.sqlite3'}" for name in names}
    base = request.getfixturevalue("postgres_url")
    urls = {name: f"{base}_{name}" for name in names}
    for url in urls.values():
        await _ensure_database(url)
        await _fresh_schema(url)
    return urls


@pytest.fixture
async def svc(nats, nats_url, databases, tmp_path):
    followup_db = databases.pop("followup")
    async with all_three(nats_url, followup_db, tmp_path, databases=databases) as running:
        yield running


async def views(svc, rid: str) -> tuple[str | None, ...]:
    """The handover state in each of the four views (None where there is no row yet)."""
    delivery_app, followup_app = svc.apps["delivery"], svc.apps["followup"]
    store = delivery_app.state.application.store
    aggregate = RequestDelivery.from_history(rid, await store.history("request", rid))
    in_delivery = (await svc.delivery.get(f"/v1/requests/{rid}/delivery")).json().get("handover")
    in_intake = ((await svc.intake.get(f"/v1/requests/{rid}")).json().get("delivery") or {}).get("handover")
    runtime = followup_app.state.runtime
    table = runtime.parts.projection("request_deliveries").table
    async with runtime.engine.connect() as conn:
        in_followup = await conn.scalar(select(table.c.status).where(table.c.request_id == rid))
    return aggregate.handover, in_delivery, in_intake, in_followup


async def all_say(svc, rid: str, state: str) -> None:
    seen: list[tuple] = []

    async def agree():
        seen.append(await views(svc, rid))
        return seen[-1] == (state,) * 4

    try:
        await eventually(agree, what=f"all four views saying {state}")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; (aggregate, delivery, intake, follow-up) last said {seen[-1]}") from None


async def test_all_four_views_agree_through_a_reopen(svc):
    _, rid = await new_request(svc)
    first = await hand_off(svc, rid, "design")
    await all_say(svc, rid, "in_delivery")
    await finish(svc, first["design"])
    await all_say(svc, rid, "ready_for_handover")

    second = await hand_off(svc, rid, "print")  # new work while ready for handover: back in delivery
    await all_say(svc, rid, "in_delivery")
    await finish(svc, second["print"])
    await all_say(svc, rid, "ready_for_handover")

    r = await svc.delivery.post(
        f"/v1/requests/{rid}/acceptance",
        json={"accepted": False, "feedback": "nearly", "rework": [{"department": "print", "description": "darker"}]},
    )
    assert r.status_code == 200, r.text
    await all_say(svc, rid, "rework")
    await act(svc, second["print"], "start")
    await act(svc, second["print"], "complete", {"note": "darker now"})
    await all_say(svc, rid, "ready_for_handover")

    r = await svc.delivery.post(f"/v1/requests/{rid}/acceptance", json={"accepted": True, "satisfaction": 5})
    assert r.status_code == 200, r.text
    await all_say(svc, rid, "accepted")
