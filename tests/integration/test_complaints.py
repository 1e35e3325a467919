"""Complaints end to end on a real broker: deadlines by tier under a fake clock, a breach
recorded and escalated once (restart and a second replica included), a department's
board, the lifecycle's 409s, bad input, and the read model equal to a clean rebuild."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from asgi_lifespan import LifespanManager

from baton_shared.contracts import STREAMS, registry
from baton_shared.eventstore.provisioning import js_api
from baton_shared.projections.rebuild import VERIFY_SUFFIX, ProjectionRebuild
from baton_followup.domain.complaints import HEAD_ROLE
from baton_followup.projections import ComplaintsProjection
from tests.integration.services import TEST_TOKENS, all_three, bearer, eventually

pytestmark = pytest.mark.nats


async def ok(call, expect: int = 200):
    r = await call
    return r.json() if r.status_code == expect else None


async def stored(nats) -> int:
    return (await js_api(nats, "STREAM.INFO.FOLLOWUP"))["state"]["messages"]


async def key_account(svc) -> str:
    body = {"name": "Big", "segment": "B2B", "account_manager": "alice", "annual_revenue": "20000000"}
    cid = (await svc.intake.post("/v1/clients", json=body)).json()["ids"]["client_id"]

    async def tiered():
        relationship = await ok(svc.followup.get(f"/v1/clients/{cid}"))
        return relationship and relationship["tier"] == "key"

    await eventually(tiered, what="a key account")
    return cid


async def complaint(svc, cid: str, position: int | None = None) -> dict:
    return await ok(svc.followup.get(f"/v1/complaints/{cid}", params={"min_position": position} if position else {}))


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_key_accounts_missed_first_response_escalates_once_across_restart_and_replicas(
    nats, nats_url, database_url, tmp_path
):
    from baton_followup.composition import create_app
    from baton_followup.settings import FollowupSettings

    async with all_three(nats_url, database_url, tmp_path) as svc:
        cid = await key_account(svc)
        opened = await svc.followup.post(
            f"/v1/clients/{cid}/complaints", json={"category": "delay", "severity": "high", "description": "late"}
        )
        assert opened.status_code == 201, opened.text
        kid = opened.json()["ids"]["complaint_id"]
        case = await complaint(svc, kid, opened.json()["position"]["seq"])
        now = svc.clock.now
        assert datetime.fromisoformat(case["respond_by"]) == now + timedelta(hours=4)
        assert datetime.fromisoformat(case["resolve_by"]) == now + timedelta(hours=48)
        deadlines = svc.followup_app.state.complaint_deadlines
        svc.clock.now = now + timedelta(hours=3)
        assert await deadlines.run_once() == 0  # not yet

        svc.clock.now = now + timedelta(hours=5)
        before = await stored(nats)
        common = {
            "nats_url": nats_url,
            "data_dir": tmp_path,
            "read_wait_timeout_seconds": 5,
            "log_level": "WARNING",
            "tokens": TEST_TOKENS,
        }
        replica = create_app(FollowupSettings(database_url=database_url, **common), clock=svc.clock, run_planner=False)
        async with LifespanManager(replica, startup_timeout=30, shutdown_timeout=30):
            both = [deadlines.run_once(), replica.state.complaint_deadlines.run_once()]
            counts = await asyncio.gather(*both)
            # Two replicas at once: one records it; the other conflicts and finds it, or its append
            # of the same derived event id is a duplicate the broker drops. Stored once, below.
            assert 1 in counts, counts
            assert await replica.state.complaint_deadlines.run_once() == 0
        restarted = create_app(
            FollowupSettings(database_url=database_url, **common), clock=svc.clock, run_planner=False
        )
        async with LifespanManager(restarted, startup_timeout=30, shutdown_timeout=30):
            assert await restarted.state.complaint_deadlines.run_once() == 0  # a restart: still once
        assert await deadlines.run_once() == 0
        assert await stored(nats) == before + 1

        async def escalated():
            page = await ok(svc.followup.get("/v1/complaints", params={"escalated": "true"}, headers=bearer("alice")))
            return page and page["total"] == 1 and page["items"][0]

        case = await eventually(escalated, what="the escalation on alice's list")
        assert (case["escalated_to_role"], case["escalated_to"]) == ("account_manager", "alice")
        assert [b["deadline"] for b in case["breaches"]] == ["first_response"]
        assert (await ok(svc.followup.get("/v1/complaints", headers=bearer("bob"))))["total"] == 0

        ack = await svc.followup.post(f"/v1/complaints/{kid}/acknowledge", json={"response": "sorry, on it"})
        assert ack.status_code == 200, ack.text
        svc.clock.now = now + timedelta(hours=49)
        await complaint(svc, kid, ack.json()["position"]["seq"])
        assert await deadlines.run_once() == 1
        assert await deadlines.run_once() == 0

        async def resolution_missed():
            case = await complaint(svc, kid)
            return case and len(case["breaches"]) == 2 and case

        case = await eventually(resolution_missed, what="the resolution breach")
        assert (case["escalated_to_role"], case["breaches"][1]["deadline"]) == (HEAD_ROLE, "resolution")
        rebuild = ProjectionRebuild(
            "followup",
            ComplaintsProjection,
            svc.followup_app.state.runtime.engine,
            STREAMS["followup"],
            registry,
            suffix=VERIFY_SUFFIX,
        )
        _, verification = await rebuild.verify(nats)
        assert verification.keys_agree and verification.rows_agree


async def test_a_department_sees_the_complaint_on_its_board_and_resolves_it(nats, nats_url, tmp_path):
    async with all_three(nats_url, f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}", tmp_path) as svc:
        cid = await key_account(svc)
        opened = await svc.followup.post(
            f"/v1/clients/{cid}/complaints",
            json={"category": "delivery_quality", "description": "walls crooked"},
            headers=bearer("alice"),
        )
        assert opened.status_code == 201, opened.text
        kid = opened.json()["ids"]["complaint_id"]
        await complaint(svc, kid, opened.json()["position"]["seq"])
        early = await svc.followup.post(f"/v1/complaints/{kid}/assign", json={"department": "design"})
        assert early.status_code == 409 and "it is opened" in early.json()["detail"]
        await svc.followup.post(
            f"/v1/complaints/{kid}/acknowledge", json={"response": "we will look"}, headers=bearer("alice")
        )
        assigned = await svc.followup.post(
            f"/v1/complaints/{kid}/assign", json={"department": "Design"}, headers=bearer("alice")
        )
        assert assigned.status_code == 200, assigned.text
        at = {"min_position": assigned.json()["position"]["seq"]}

        board = await ok(svc.followup.get("/v1/departments/design/complaints", params=at, headers=bearer("design")))
        assert [c["complaint_id"] for c in board["items"]] == [kid]
        assert (await svc.followup.get("/v1/departments/design/complaints", headers=bearer("build"))).status_code == 403
        assert (
            await svc.followup.post(
                f"/v1/complaints/{kid}/resolve", json={"resolution": "x", "root_cause": "y"}, headers=bearer("build")
            )
        ).status_code == 403
        resolved = await svc.followup.post(
            f"/v1/complaints/{kid}/resolve",
            json={"resolution": "walls redone", "root_cause": "no level check"},
            headers=bearer("design"),
        )
        assert resolved.status_code == 200, resolved.text
        case = await complaint(svc, kid, resolved.json()["position"]["seq"])
        assert (case["status"], case["department"], case["root_cause"]) == ("resolved", "design", "no level check")
        board = await ok(svc.followup.get("/v1/departments/design/complaints", params=at, headers=bearer("design")))
        assert board["total"] == 0  # open ones by default
        reopened = await svc.followup.post(
            f"/v1/complaints/{kid}/reopen", json={"reason": "still crooked"}, headers=bearer("alice")
        )
        assert (
            reopened.status_code == 200
            and (await complaint(svc, kid, reopened.json()["position"]["seq"]))["round"] == 2
        )
        await svc.followup.post(
            f"/v1/complaints/{kid}/resolve",
            json={"resolution": "again", "root_cause": "tools"},
            headers=bearer("design"),
        )
        confirmed = await svc.followup.post(f"/v1/complaints/{kid}/confirm", headers=bearer("alice"))
        assert confirmed.status_code == 200, confirmed.text
        assert (await complaint(svc, kid, confirmed.json()["position"]["seq"]))["status"] == "confirmed"
        brief = await ok(svc.followup.get(f"/v1/clients/{cid}/brief", headers=bearer("alice")))
        assert [(c["complaint_id"], c["status"], c["round"]) for c in brief["complaints"]] == [(kid, "confirmed", 2)]
        again = await svc.followup.post(f"/v1/complaints/{kid}/confirm")
        assert again.status_code == 409 and "it is confirmed" in again.json()["detail"]


async def test_bad_complaint_input_is_4xx_and_appends_nothing(nats, nats_url, tmp_path):
    async with all_three(nats_url, f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}", tmp_path) as svc:
        cid = await key_account(svc)
        kid = (
            await svc.followup.post(f"/v1/clients/{cid}/complaints", json={"category": "other", "description": "x"})
        ).json()["ids"]["complaint_id"]
        await eventually(lambda: complaint(svc, kid), what="complaint")
        missing = "6b1f0000-0000-4000-8000-000000000000"
        before = await stored(nats)
        cases = [
            ("POST", f"/v1/clients/{cid}/complaints", {"category": "rudeness", "description": "x"}, 422),
            ("POST", f"/v1/clients/{cid}/complaints", {"category": "delay"}, 422),
            ("POST", f"/v1/clients/{cid}/complaints", {"category": "delay", "description": "  "}, 422),
            (
                "POST",
                f"/v1/clients/{cid}/complaints",
                {"category": "delay", "description": "x", "severity": "apocalyptic"},
                422,
            ),
            (
                "POST",
                f"/v1/clients/{cid}/complaints",
                {"category": "delay", "description": "x", "request_id": "nope"},
                422,
            ),
            ("POST", f"/v1/clients/{missing}/complaints", {"category": "delay", "description": "x"}, 404),
            ("POST", f"/v1/complaints/{kid}/acknowledge", {}, 422),
            ("POST", f"/v1/complaints/{kid}/assign", {"department": "no spaces"}, 422),
            ("POST", f"/v1/complaints/{kid}/resolve", {"resolution": "x"}, 422),
            ("POST", f"/v1/complaints/{kid}/resolve", {"resolution": "x", "root_cause": "y"}, 409),
            ("POST", f"/v1/complaints/{kid}/confirm", None, 409),
            ("POST", f"/v1/complaints/{kid}/reopen", {"reason": "x"}, 409),
            ("POST", f"/v1/complaints/{kid}/assign", {"department": "design"}, 409),
            ("POST", f"/v1/complaints/{missing}/acknowledge", {"response": "x"}, 404),
            ("POST", "/v1/complaints/not-an-id/acknowledge", {"response": "x"}, 404),
            ("GET", f"/v1/complaints/{missing}", None, 404),
            ("GET", "/v1/complaints?status=lost", None, 422),
            ("GET", "/v1/complaints?client_id=nope", None, 422),
            ("GET", "/v1/departments/Bad Name!/complaints", None, 422),
        ]
        for method, path, body, status in cases:
            r = await svc.followup.request(method, path, json=body)
            assert r.status_code == status, (method, path, body, r.text)
            assert r.json()["detail"], (path, r.text)
        assert await stored(nats) == before


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_a_command_on_a_complaint_opened_a_moment_ago_finds_it(nats, nats_url, database_url, tmp_path):
    """Admin's token passes the access rule without a lookup: the command's own lookup of the
    complaint must wait for the projection rather than answer 404 (as it did under load)."""
    async with all_three(nats_url, database_url, tmp_path) as svc:
        cid = await key_account(svc)
        body = {"category": "delay", "severity": "high", "description": "late"}

        async def open_and_acknowledge(n: int) -> int:
            opened = await svc.followup.post(f"/v1/clients/{cid}/complaints", json=body)
            assert opened.status_code == 201, opened.text
            kid = opened.json()["ids"]["complaint_id"]
            answer = await svc.followup.post(f"/v1/complaints/{kid}/acknowledge", json={"response": f"on it {n}"})
            return answer.status_code

        statuses = [await open_and_acknowledge(n) for n in range(30)]  # each right after its opening
        assert statuses == [200] * 30
