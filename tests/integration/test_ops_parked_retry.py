"""`baton parked retry`: parked events go back through the same projection and reaction code.

A handoff written by a newer intake (schema v2) reaches readers that only know v1:
intake's projections, delivery's projection of intake's stream and delivery's
reaction all park it. Retrying before the fix fails and keeps it parked; once the
readers know v2 (the fix is deployed), a retry applies it everywhere, opens the work
order, forgets every parking record and never moves a checkpoint backwards, all
while the services keep running.
"""

import asyncio
import contextlib
import uuid
from datetime import date, timedelta

import nats as nats_py
import orjson
import pytest

from baton_shared.contracts import intake as contracts
from baton_shared.contracts import registry
from tests.integration.services import eventually, intake_and_delivery
from tests.integration.test_ops_cli import _clean, as_json, baton

pytestmark = pytest.mark.nats

# Every reader of intake's stream that is given the handoff decodes it before it looks at the
# type, so every one parks it. Delivery's client managers name the client events they fold and
# are given those alone (projections.hearing): not this.
OWNERS = [
    "delivery.reaction.intake_requests",
    "intake.clients",
    "intake.requests",
    "intake.timeline",
]


@contextlib.contextmanager
def readers_know_v2():
    """What deploying a reader that understands HandoffRequested v2 does."""
    registry.upcaster("HandoffRequested", 1)(lambda payload: payload)
    contracts.HandoffRequested.schema_version = 2
    try:
        yield
    finally:
        contracts.HandoffRequested.schema_version = 1
        registry.forget_upcaster("HandoffRequested", 1)


async def test_retry_puts_projection_and_reaction_parked_events_back(nats_url, tmp_path):
    await asyncio.to_thread(asyncio.run, _clean(nats_url))
    env = {
        "BATON_NATS_URL": nats_url,
        "BATON_DATA_DIR": str(tmp_path),
        "BATON_INTAKE_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'intake.sqlite3'}",
        "BATON_DELIVERY_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'delivery.sqlite3'}",
    }

    def cli(*args):  # the CLI runs its own event loop: give it a thread
        return asyncio.to_thread(baton, env, *args)

    delivery_db = env["BATON_DELIVERY_DATABASE_URL"]
    async with intake_and_delivery(nats_url, delivery_db, tmp_path) as svc:
        c = await svc.intake.post("/v1/clients", json={"name": "Parked", "segment": "B2B", "account_manager": "alice"})
        cid = c.json()["ids"]["client_id"]
        r = await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "a house"})
        rid = r.json()["ids"]["request_id"]
        due = (date.today() + timedelta(days=10)).isoformat()
        h = await svc.intake.post(
            f"/v1/requests/{rid}/handoffs", json={"work": [{"department": "design", "scope": "plans", "due_by": due}]}
        )
        assert h.status_code == 201, h.text

        # The same handoff as a newer intake would write it, to another department.
        nc = await nats_py.connect(nats_url)
        js = nc.jetstream()
        real = orjson.loads((await js.get_last_msg("INTAKE", f"intake.request.{rid}.HandoffRequested")).data)
        newer_id = str(uuid.uuid4())
        newer = dict(
            real,
            event_id=str(uuid.uuid4()),
            schema_version=2,
            payload=dict(real["payload"], handoff_id=newer_id, department="legal"),
        )
        ack = await js.publish(f"intake.request.{rid}.HandoffRequested", orjson.dumps(newer), stream="INTAKE")
        await nc.close()

        async def all_parked():
            rows = as_json(await cli("parked", "list", "--json"))
            return rows if sorted(p["projection"] for p in rows) == OWNERS else None

        parked = await eventually(all_parked, what="every reader of intake's stream parking the v2 handoff")
        assert {p["seq"] for p in parked} == {ack.seq} and all(p["tries"] >= 1 for p in parked)
        status = {p["projection"]: p["checkpoint"] for p in as_json(await cli("projections", "status", "--json"))}

        # Before the fix: the same code fails the same way; the events stay parked, with one more try.
        failed = await cli("parked", "retry", "--all", "--json")
        assert failed.exit_code == 1
        assert {x["outcome"] for x in orjson.loads(failed.stdout)} == {"failed"}
        again = {p["projection"]: p for p in as_json(await cli("parked", "list", "--json"))}
        assert sorted(again) == OWNERS
        assert all(again[p["projection"]]["tries"] == p["tries"] + 1 for p in parked)
        assert "newer than this reader" in again["intake.requests"]["error"]
        # The same, through each service's HTTP API (what the console's ops page shows).
        over_http = {}
        for service in (svc.intake, svc.delivery):
            page = (await service.get("/v1/parked")).json()
            assert page["total"] == len(page["items"]), page
            over_http |= {p["ref"]: p for p in page["items"]}
        assert sorted(over_http) == sorted(f"{o}#{ack.seq}" for o in OWNERS)
        assert over_http[f"intake.requests#{ack.seq}"]["tries"] == again["intake.requests"]["tries"]
        assert "newer than this reader" in over_http[f"intake.requests#{ack.seq}"]["error"]

        with readers_know_v2():
            one = as_json(await cli("parked", "retry", f"intake.requests#{ack.seq}", "--json"))
            assert one == [
                {"ref": f"intake.requests#{ack.seq}", "outcome": "applied", "ok": True, "later_events_of_aggregate": 0}
            ]
            rest = as_json(await cli("parked", "retry", "--all", "--json"))
        assert {x["ref"].split("#")[0]: x["outcome"] for x in rest} == {
            "delivery.reaction.intake_requests": "appended",
            "intake.clients": "applied",
            "intake.timeline": "applied",
        }
        assert as_json(await cli("parked", "list", "--json")) == []
        assert (await svc.intake.get("/v1/parked")).json()["total"] == 0

        # The reaction opened the work order; the projections hold the handoff.
        wo = await svc.delivery.get(f"/v1/work-orders/{newer_id}")
        assert wo.status_code == 200 and wo.json()["department"] == "legal", wo.text
        request = (await svc.intake.get(f"/v1/requests/{rid}")).json()
        assert [x["department"] for x in request["handoffs"]] == ["design", "legal"]
        timeline = (await svc.intake.get(f"/v1/clients/{cid}/timeline")).json()
        assert ack.seq in [e["seq"] for e in timeline["items"]]
        # Checkpoints never moved backwards; the services go on projecting.
        after = {p["projection"]: p["checkpoint"] for p in as_json(await cli("projections", "status", "--json"))}
        assert all(after[k] >= v for k, v in status.items() if v is not None)
        note = await svc.intake.post(f"/v1/clients/{cid}/notes", json={"text": "after the retry"})
        seen = await svc.intake.get(f"/v1/clients/{cid}", params={"min_position": note.json()["position"]["seq"]})
        assert [n["text"] for n in seen.json()["notes"]] == ["after the retry"]


def test_retry_and_drop_usage_errors(tmp_path, nats_url):
    env = {"BATON_NATS_URL": nats_url, "BATON_DATA_DIR": str(tmp_path)}
    assert baton(env, "parked", "retry").exit_code == 2
    assert baton(env, "parked", "retry", "intake.clients#1", "--all").exit_code == 2
    assert baton(env, "parked", "retry", "intake.clients#1", "--owner", "intake.clients").exit_code == 2
    unknown = baton(env, "parked", "retry", "--all", "--owner", "intake.nothing")
    assert unknown.exit_code == 2 and "unknown projection 'intake.nothing'" in unknown.output
    assert baton(env, "parked", "retry", "billing.x#1").exit_code == 2
    assert baton(env, "parked", "retry", "intake.clients#1").exit_code == 3
    nothing = baton(env, "parked", "retry", "--all", "--json")
    assert nothing.exit_code == 0 and orjson.loads(nothing.stdout) == []
