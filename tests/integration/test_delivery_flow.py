"""Delivery end to end, with intake: handoffs become work orders, through handover and acceptance."""

from datetime import timedelta

import pytest

from baton_shared.contracts import STREAMS, registry
from baton_shared.projections.rebuild import VERIFY_SUFFIX, ProjectionRebuild
from baton_shared.eventstore.provisioning import js_api
from baton_delivery.projections import RequestDeliveriesProjection
from tests.integration.services import eventually, intake_and_delivery

pytestmark = pytest.mark.nats


@pytest.fixture
async def svc(nats, nats_url, database_url, tmp_path):
    async with intake_and_delivery(nats_url, database_url, tmp_path) as running:
        yield running


async def new_request(svc, manager: str = "alice") -> tuple[str, str]:
    client = await svc.intake.post("/v1/clients", json={"name": "Acme", "segment": "B2B", "account_manager": manager})
    cid = client.json()["ids"]["client_id"]
    request = await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "a house"})
    return cid, request.json()["ids"]["request_id"]


async def hand_off(svc, rid: str, *departments: str, due_in_days: int = 30) -> dict[str, str]:
    due = (svc.clock.now.date() + timedelta(days=due_in_days)).isoformat()
    r = await svc.intake.post(
        f"/v1/requests/{rid}/handoffs",
        json={"work": [{"department": d, "scope": f"{d} work", "due_by": due} for d in departments]},
    )
    assert r.status_code == 201, r.text
    ids = dict(zip(departments, r.json()["ids"]["handoff_ids"], strict=True))
    for wo in ids.values():
        await eventually(lambda wo=wo: _ok(svc.delivery.get(f"/v1/work-orders/{wo}")), what=f"work order {wo}")
    return ids


async def _ok(call):
    r = await call
    return r.json() if r.status_code == 200 else None


async def act(svc, wo: str, action: str, body: dict | None = None, expect: int = 200) -> dict:
    r = await svc.delivery.post(f"/v1/work-orders/{wo}/{action}", json=body if body is not None else {})
    assert r.status_code == expect, (action, r.text)
    return r.json()


async def finish(svc, wo: str, member: str = "bob") -> dict:
    await act(svc, wo, "accept", {"member": member})
    await act(svc, wo, "start")
    await act(svc, wo, "progress", {"note": "half way", "percent": 50})
    return await act(svc, wo, "complete", {"note": "done"})


async def delivery_of(svc, rid: str, position: int | None = None) -> dict:
    params = {"min_position": position} if position else {}
    r = await svc.delivery.get(f"/v1/requests/{rid}/delivery", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def stored(nats, stream: str = "DELIVERY") -> int:
    return (await js_api(nats, f"STREAM.INFO.{stream}"))["state"]["messages"]


async def test_from_handoff_to_acceptance(svc):
    _, rid = await new_request(svc)
    wos = await hand_off(svc, rid, "design", "production")
    work_order = (await svc.delivery.get(f"/v1/work-orders/{wos['design']}")).json()
    assert work_order["status"] == "opened" and work_order["account_manager"] == "alice"
    assert [h["event_type"] for h in work_order["history"]] == ["WorkOrderOpened"]

    await finish(svc, wos["design"])
    last = await finish(svc, wos["production"])
    delivery = await delivery_of(svc, rid, last["position"]["seq"])
    assert delivery["handover"] == "ready_for_handover" and delivery["handover_round"] == 1
    assert {w["status"] for w in delivery["work_orders"]} == {"completed"}

    verdict = await svc.delivery.post(
        f"/v1/requests/{rid}/acceptance", json={"accepted": True, "satisfaction": 5, "feedback": "lovely"}
    )
    assert verdict.status_code == 200, verdict.text
    delivery = await delivery_of(svc, rid, verdict.json()["position"]["seq"])
    assert delivery["handover"] == "accepted" and delivery["acceptance"]["satisfaction"] == 5

    work_order = (await svc.delivery.get(f"/v1/work-orders/{wos['design']}")).json()
    history = work_order["history"]
    assert [h["event_type"] for h in history] == [
        "WorkOrderOpened",
        "WorkOrderAccepted",
        "WorkOrderStarted",
        "WorkOrderProgressed",
        "WorkOrderCompleted",
    ]
    assert history[-1]["seq"] == work_order["version"]  # the history behind the row, as far as the row
    # Intake's request view shows delivery's progress, projected from delivery's events.
    view = await eventually(
        lambda: _accepted(svc.intake.get(f"/v1/requests/{rid}")), what="intake seeing the acceptance"
    )
    assert view["delivery"]["completed"] == 2 and view["delivery"]["acceptance"]["satisfaction"] == 5


async def _accepted(call):
    r = await call
    body = r.json()
    return body if body.get("delivery") and body["delivery"]["handover"] == "accepted" else None


async def agrees_with_a_clean_rebuild(app, service: str, make, nats) -> bool:
    """The live projection holds exactly what a clean rebuild from the log holds (``baton projections verify``)."""
    runtime = app.state.runtime
    rebuild = ProjectionRebuild(service, make, runtime.engine, STREAMS[service], registry, suffix=VERIFY_SUFFIX)
    _, verification = await rebuild.verify(nats)
    return verification.keys_agree and verification.rows_agree


async def test_a_rework_round(svc, nats):
    _, rid = await new_request(svc)
    wos = await hand_off(svc, rid, "design", "production")
    await finish(svc, wos["design"])
    await finish(svc, wos["production"])
    r = await svc.delivery.post(
        f"/v1/requests/{rid}/acceptance",
        json={
            "accepted": False,
            "feedback": "nearly",
            "rework": [
                {"department": "design", "description": "bigger windows"},
                {
                    "department": "design",
                    "description": "a new colour",
                    "paid_by": "client",
                    "amount": "1200.50",
                    "currency": "EUR",
                },
            ],
        },
    )
    assert r.status_code == 200, r.text
    delivery = await delivery_of(svc, rid, r.json()["position"]["seq"])
    assert delivery["handover"] == "rework"
    statuses = {w["department"]: w["status"] for w in delivery["work_orders"]}
    assert statuses == {"design": "reopened", "production": "completed"}
    assert delivery["rounds"][0]["rework"] == [
        {"department": "design", "description": "bigger windows", "paid_by": "us", "amount": None, "currency": None},
        {
            "department": "design",
            "description": "a new colour",
            "paid_by": "client",
            "amount": "1200.50",
            "currency": "EUR",
        },
    ]
    assert delivery["rework_money"] == [
        {"paid_by": "client", "currency": "EUR", "amount": "1200.50", "items": 1},
        {"paid_by": "us", "currency": None, "amount": None, "items": 1},
    ]

    await act(svc, wos["design"], "start")
    done = await act(svc, wos["design"], "complete", {"note": "bigger now"})
    delivery = await delivery_of(svc, rid, done["position"]["seq"])
    assert delivery["handover"] == "ready_for_handover" and delivery["handover_round"] == 2
    ok = await svc.delivery.post(f"/v1/requests/{rid}/acceptance", json={"accepted": True, "satisfaction": 4})
    assert ok.status_code == 200
    design = next(
        w
        for w in (await delivery_of(svc, rid, ok.json()["position"]["seq"]))["work_orders"]
        if w["department"] == "design"
    )
    assert design["rework_rounds"] == 1
    assert await agrees_with_a_clean_rebuild(svc.delivery_app, "delivery", RequestDeliveriesProjection, nats)


async def test_a_change_request_reaches_the_right_departments(svc):
    _, rid = await new_request(svc)
    wos = await hand_off(svc, rid, "design", "production", "logistics")
    await finish(svc, wos["logistics"])
    await svc.intake.post(f"/v1/requests/{rid}/changes", json={"department": "design", "description": "add a balcony"})
    await svc.intake.post(f"/v1/requests/{rid}/changes", json={"description": "one floor less"})

    async def changes():
        rows = {w: (await svc.delivery.get(f"/v1/work-orders/{wo}")).json()["changes"] for w, wo in wos.items()}
        return rows if len(rows["design"]) == 2 and len(rows["production"]) == 1 else None

    rows = await eventually(changes, what="changes attached")
    assert [c["description"] for c in rows["design"]] == ["add a balcony", "one floor less"]
    assert [c["description"] for c in rows["production"]] == ["one floor less"]
    assert rows["logistics"] == []  # finished before the change, and not named
    assert rows["design"][0]["requested_by"] == "api"
    board = (await svc.delivery.get("/v1/departments/design/board")).json()
    assert board["counts"] == {"opened": 1}


async def test_a_cancellation_stops_the_live_work(svc):
    _, rid = await new_request(svc)
    wos = await hand_off(svc, rid, "design", "production")
    await finish(svc, wos["design"])
    await svc.intake.post(f"/v1/requests/{rid}/cancel", json={"reason": "client withdrew"})

    async def cancelled():
        d = await delivery_of(svc, rid)
        statuses = {w["department"]: w["status"] for w in d["work_orders"]}
        return statuses if statuses["production"] == "cancelled" else None

    assert await eventually(cancelled, what="cancellation") == {"design": "completed", "production": "cancelled"}
    r = await svc.delivery.post(f"/v1/work-orders/{wos['production']}/accept", json={"member": "bob"})
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]


async def test_overdue_is_detected_once_and_escalated(svc, nats):
    _, rid = await new_request(svc, manager="alice")
    wos = await hand_off(svc, rid, "design", "production", due_in_days=3)
    await finish(svc, wos["production"])
    scheduler = svc.delivery_app.state.scheduler
    assert await scheduler.run_once() == 0  # not late yet

    svc.clock.now += timedelta(days=4)
    before = await stored(nats)
    results = [await scheduler.run_once(), await scheduler.run_once()]
    assert results == [1, 0]  # design is late; production is done; and only once
    assert await stored(nats) == before + 1

    async def escalated():
        r = await svc.delivery.get("/v1/escalations", params={"account_manager": "alice"})
        return r.json() if r.json()["total"] == 1 and r.json()["items"][0]["overdue"] else None

    escalations = await eventually(escalated, what="escalation")
    [item] = escalations["items"]
    assert item["work_order_id"] == wos["design"] and item["reasons"] == ["overdue"] and item["overdue"] is True
    assert (await svc.delivery.get("/v1/escalations", params={"account_manager": "bob"})).json()["total"] == 0
    board = (await svc.delivery.get("/v1/departments/design/board")).json()
    assert [w["work_order_id"] for w in board["overdue"]] == [wos["design"]]


async def test_the_running_service_looks_for_overdue_work_by_itself(nats_url, database_url, tmp_path):
    """The scheduler runs inside the service (before this test, one made after the runtime never started)."""
    async with intake_and_delivery(
        nats_url, database_url, tmp_path, run_scheduler=True, overdue_check_seconds=0.2
    ) as svc:
        _, rid = await new_request(svc, manager="alice")
        wos = await hand_off(svc, rid, "design", due_in_days=1)
        svc.clock.now += timedelta(days=2)

        async def marked_overdue():
            r = await svc.delivery.get(f"/v1/work-orders/{wos['design']}")
            return r.json() if r.json().get("overdue") else None

        assert (await eventually(marked_overdue, what="overdue found by the running scheduler"))["overdue"] is True


async def test_escalations_follow_the_clients_new_account_manager_and_blocks(svc):
    cid, rid = await new_request(svc, manager="alice")
    wos = await hand_off(svc, rid, "design")
    await act(svc, wos["design"], "accept", {"member": "bob"})
    await act(svc, wos["design"], "block", {"reason": "waiting for the plans"})
    await svc.intake.put(f"/v1/clients/{cid}/account-manager", json={"account_manager": "carol"})

    async def escalated_to_carol():
        r = await svc.delivery.get("/v1/escalations", params={"account_manager": "carol"})
        return r.json() if r.json()["total"] == 1 else None

    [item] = (await eventually(escalated_to_carol, what="escalation to the new manager"))["items"]
    assert item["reasons"] == ["blocked"] and item["blocked_reason"] == "waiting for the plans"
    unblocked = await act(svc, wos["design"], "unblock")
    work_order = (
        await svc.delivery.get(
            f"/v1/work-orders/{wos['design']}", params={"min_position": unblocked["position"]["seq"]}
        )
    ).json()
    assert work_order["status"] == "accepted" and work_order["blocked_seconds"] >= 0


async def test_a_redelivered_handoff_opens_no_second_work_order(svc, nats):
    _, rid = await new_request(svc)
    await hand_off(svc, rid, "design", "production")
    opened = await stored(nats)
    # Every cause is delivered again: the reaction's consumer starts over from the beginning.
    runner = svc.delivery_app.state.runtime.reactions["intake_requests"]
    await runner.stop_live()
    await js_api(nats, f"CONSUMER.DELETE.INTAKE.{runner.durable}")
    await runner.prepare_live(nats)
    await runner.start_live(nats)

    async def drained():
        info = await js_api(nats, f"CONSUMER.INFO.INTAKE.{runner.durable}")
        return info["num_pending"] == 0 and info["num_ack_pending"] == 0

    await eventually(drained, what="causes handled again")
    assert await stored(nats) == opened
    listed = (await svc.delivery.get("/v1/work-orders")).json()
    assert listed["total"] == 2


async def test_bad_input_is_4xx_and_appends_nothing(svc, nats):
    _, rid = await new_request(svc)
    wos = await hand_off(svc, rid, "design")
    wo = wos["design"]
    before = await stored(nats)
    cases = [
        ("POST", f"/v1/work-orders/{wo}/accept", {}, 422),
        ("POST", f"/v1/work-orders/{wo}/accept", {"member": "  "}, 422),
        ("POST", f"/v1/work-orders/{wo}/progress", {"note": "x", "percent": 101}, 422),
        ("POST", f"/v1/work-orders/{wo}/block", {"reason": "x", "extra": 1}, 422),
        ("POST", f"/v1/work-orders/{wo}/start", {}, 409),
        ("POST", f"/v1/work-orders/{wo}/complete", {"note": "x"}, 409),
        ("POST", f"/v1/work-orders/{wo}/unblock", {}, 409),
        ("POST", "/v1/work-orders/6b1f0000-0000-4000-8000-000000000000/accept", {"member": "bob"}, 404),
        ("POST", "/v1/work-orders/not-an-id/accept", {"member": "bob"}, 404),
        ("GET", "/v1/work-orders/6b1f0000-0000-4000-8000-000000000000", None, 404),
        ("GET", "/v1/requests/6b1f0000-0000-4000-8000-000000000000/delivery", None, 404),
        ("GET", "/v1/work-orders?status=lost", None, 422),
        ("GET", "/v1/departments/Bad Name!/board", None, 422),
        ("GET", "/v1/work-orders?department=no%20spaces", None, 422),
        ("POST", f"/v1/requests/{rid}/acceptance", {"accepted": True}, 409),
        ("POST", f"/v1/requests/{rid}/acceptance", {"accepted": False}, 422),
        ("POST", f"/v1/requests/{rid}/acceptance", {"accepted": True, "satisfaction": 6}, 422),
        (
            "POST",
            f"/v1/requests/{rid}/acceptance",
            {"accepted": True, "rework": [{"department": "design", "description": "x"}]},
            422,
        ),
        *[
            (
                "POST",
                f"/v1/requests/{rid}/acceptance",
                {"accepted": False, "rework": [dict({"department": "design", "description": "x"}, **money)]},
                422,
            )
            for money in (
                {"paid_by": "client"},
                {"paid_by": "client", "amount": "10"},
                {"amount": "10"},
                {"currency": "EUR"},
                {"paid_by": "client", "amount": "-1", "currency": "EUR"},
                {"paid_by": "client", "amount": "10", "currency": "eur"},
                {"paid_by": "them", "amount": "10", "currency": "EUR"},
            )
        ],
        ("POST", "/v1/requests/6b1f0000-0000-4000-8000-000000000000/acceptance", {"accepted": True}, 404),
    ]
    for method, path, body, status in cases:
        r = await svc.delivery.request(method, path, json=body)
        assert r.status_code == status, (method, path, body, r.text)
        assert r.json()["detail"], (path, r.text)
    assert await stored(nats) == before
