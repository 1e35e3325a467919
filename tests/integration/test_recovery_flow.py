"""Recovery before selling (issue 20), end to end with intake and delivery on a real broker: an
unhappy client gets a recovery first, offers are held (refused and recorded) until it closes."""

from __future__ import annotations

from datetime import timedelta

import pytest

from baton_shared.contracts import STREAMS, registry
from baton_shared.projections.rebuild import VERIFY_SUFFIX, ProjectionRebuild
from baton_followup.domain import add_working_days
from baton_followup.projections import ClientHealthProjection, FollowUpsProjection, RecoveriesProjection
from tests.integration.services import all_three, eventually
from tests.integration.test_followup_flow import FAR, agenda, contact, ok, opportunities, register, review_of, stored

pytestmark = pytest.mark.nats


async def handed_off(svc, cid: str, summary: str, department: str, due_in_days: int = 30) -> tuple[str, str]:
    """A need handed to one department, its work order open in delivery: (request, work order)."""
    rid = (await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": summary})).json()["ids"]["request_id"]
    due = (svc.clock.now.date() + timedelta(days=due_in_days)).isoformat()
    r = await svc.intake.post(
        f"/v1/requests/{rid}/handoffs", json={"work": [{"department": department, "scope": summary, "due_by": due}]}
    )
    wo = r.json()["ids"]["handoff_ids"][0]
    await eventually(lambda: ok(svc.delivery.get(f"/v1/work-orders/{wo}")), what="work order")
    return rid, wo


async def work(svc, wo: str, *steps: tuple[str, dict]) -> None:
    for action, body in steps:
        assert (await svc.delivery.post(f"/v1/work-orders/{wo}/{action}", json=body)).status_code == 200


async def handed_over(svc, cid: str, summary: str, department: str) -> str:
    """A need handed to one department and completed: ready for the client's verdict."""
    rid, wo = await handed_off(svc, cid, summary, department)
    await work(svc, wo, ("accept", {"member": "bob"}), ("start", {}), ("complete", {"note": "done"}))
    return rid


async def recoveries(svc, cid: str, count: int = 1) -> list[dict]:
    async def listed():
        brief = await ok(svc.followup.get(f"/v1/clients/{cid}/brief"))
        return brief and len(brief["recoveries"]) >= count and brief["recoveries"]

    return await eventually(listed, what=f"{count} recoveries")


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_a_one_out_of_five_opens_a_recovery_that_holds_the_offers_until_it_closes(
    nats, nats_url, database_url, tmp_path
):
    async with all_three(nats_url, database_url, tmp_path) as svc:
        cid = await register(svc, manager="rita")
        rid = await handed_over(svc, cid, "Build a family house", "construction")
        r = await svc.delivery.post(
            f"/v1/requests/{rid}/acceptance", json={"accepted": True, "satisfaction": 1, "feedback": "late, cracks"}
        )
        assert r.status_code == 200, r.text

        [recovery] = await recoveries(svc, cid)
        assert recovery["status"] == "open" and recovery["cause"] == "low_satisfaction" and recovery["score"] == 1
        assert recovery["feedback"] == "late, cracks" and recovery["request_id"] == rid
        assert recovery["due_on"] == add_working_days(svc.clock.now.date(), 3).isoformat()  # a standard account
        offers = await opportunities(svc, cid, 2)  # still identified: held, not lost

        listed = await agenda(svc, "rita")
        assert listed[0]["kind"] == "recovery" and listed[0]["follow_up_id"] == recovery["recovery_id"]
        assert not [i for i in listed if i["kind"] == "offer"]  # the policy would refuse them
        oid = offers[0]["opportunity_id"]
        refused = await svc.followup.post(f"/v1/opportunities/{oid}/offer", json={"channel": "phone"})
        assert refused.status_code == 409 and refused.json()["refusal"] == "recovery_in_progress", refused.text

        async def suppressed():
            rel = await ok(svc.followup.get(f"/v1/clients/{cid}"))
            return rel and [s["code"] for s in rel["suppressions"]] == ["recovery_in_progress"]

        await eventually(suppressed, what="suppression recorded")

        rec_id = recovery["recovery_id"]
        r = await svc.followup.post(
            f"/v1/follow-ups/{rec_id}/contacts", json={"channel": "phone", "outcome": "reached"}
        )
        assert r.status_code == 201, r.text  # a recovery call is not an offer: allowed
        still = await agenda(svc, "rita", position=r.json()["position"]["seq"])
        assert still[0]["follow_up_id"] == rec_id  # reached, but open until closed with its outcome
        closed = await svc.followup.post(
            f"/v1/recoveries/{rec_id}/close",
            json={"actions_taken": "fixed the cracks, discount", "client_answer": "fine now"},
        )
        assert closed.status_code == 200, closed.text
        seq = closed.json()["position"]["seq"]
        done = (await svc.followup.get(f"/v1/recoveries/{rec_id}", params={"min_position": seq})).json()
        assert done["status"] == "closed" and done["client_answer"] == "fine now" and done["closed_by"]
        again = await svc.followup.post(
            f"/v1/recoveries/{rec_id}/close", json={"actions_taken": "x", "client_answer": "y"}
        )
        assert again.status_code == 409 and "already closed" in again.json()["detail"]

        svc.clock.now += timedelta(days=60)  # the offers come due
        listed = await agenda(svc, "rita", position=seq)
        assert {i["opportunity_id"] for i in listed if i["kind"] == "offer"} == {o["opportunity_id"] for o in offers}
        offered = await svc.followup.post(f"/v1/opportunities/{oid}/offer", json={"channel": "phone"})
        assert offered.status_code == 200, offered.text

        # The read models equal a clean rebuild from the log (what `baton projections verify` runs).
        await svc.followup.get("/v1/agenda", params={"min_position": offered.json()["position"]["seq"]})
        await svc.followup.get(f"/v1/recoveries/{rec_id}", params={"min_position": offered.json()["position"]["seq"]})
        engine = svc.followup_app.state.runtime.engine
        for make in (RecoveriesProjection, FollowUpsProjection):
            _, report = await ProjectionRebuild(
                "followup", make, engine, STREAMS["followup"], registry, suffix=VERIFY_SUFFIX
            ).verify(nats)
            assert report.keys_agree and report.rows_agree, (make.name, report)


async def test_a_rejected_delivery_opens_one_recovery_and_a_low_satisfaction_check_another(nats, nats_url, tmp_path):
    async with all_three(nats_url, f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}", tmp_path) as svc:
        cid = await register(svc, manager="sam")
        rid = await handed_over(svc, cid, "Relaunch the website", "web")
        rework = [{"department": "web", "description": "the contact form is broken"}]
        r = await svc.delivery.post(
            f"/v1/requests/{rid}/acceptance", json={"accepted": False, "feedback": "not usable", "rework": rework}
        )
        assert r.status_code == 200, r.text
        [recovery] = await recoveries(svc, cid)
        assert recovery["cause"] == "delivery_rejected" and "contact form is broken" in recovery["feedback"]

        r = await svc.followup.post(f"/v1/clients/{cid}/satisfaction", json={"score": 2, "comment": "slow answers"})
        assert r.status_code == 201, r.text
        both = await recoveries(svc, cid, 2)
        assert sorted(x["cause"] for x in both) == ["delivery_rejected", "low_satisfaction"]
        r = await svc.followup.post(f"/v1/clients/{cid}/satisfaction", json={"score": 4})
        assert r.status_code == 201
        brief = (
            await svc.followup.get(f"/v1/clients/{cid}/brief", params={"min_position": r.json()["position"]["seq"]})
        ).json()
        assert len(brief["recoveries"]) == 2  # a 4/5 opens none


async def test_bad_input_on_recoveries_is_4xx_and_appends_nothing(nats, nats_url, tmp_path):
    async with all_three(nats_url, f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}", tmp_path) as svc:
        cid = await register(svc, manager="tom")
        r = await svc.followup.post(f"/v1/clients/{cid}/satisfaction", json={"score": 1, "comment": "rude"})
        [recovery] = await recoveries(svc, cid)
        missing = "6b1f0000-0000-4000-8000-000000000000"
        before = await stored(nats)
        cases = [
            ("POST", f"/v1/recoveries/{recovery['recovery_id']}/close", {"actions_taken": "x"}, 422),
            (
                "POST",
                f"/v1/recoveries/{recovery['recovery_id']}/close",
                {"actions_taken": "", "client_answer": "y"},
                422,
            ),
            (
                "POST",
                f"/v1/recoveries/{recovery['recovery_id']}/close",
                {"actions_taken": "x", "client_answer": "y", "z": 1},
                422,
            ),
            ("POST", f"/v1/recoveries/{missing}/close", {"actions_taken": "x", "client_answer": "y"}, 404),
            ("POST", "/v1/recoveries/nope/close", {"actions_taken": "x", "client_answer": "y"}, 404),
            ("GET", f"/v1/recoveries/{missing}", None, 404),
        ]
        for method, path, body, status in cases:
            r = await svc.followup.request(method, path, json=body)
            assert r.status_code == status, (method, path, body, r.text)
            assert r.json()["detail"], (path, r.text)
        assert await stored(nats) == before


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_health_falls_raises_one_at_risk_follow_up_and_equals_a_clean_rebuild(
    nats, nats_url, database_url, tmp_path
):
    async with all_three(nats_url, database_url, tmp_path) as svc:
        cid = await register(svc, manager="uma")
        healthy = await eventually(lambda: ok(svc.followup.get(f"/v1/clients/{cid}/health")), what="health")
        assert healthy["score"] == 100 and healthy["reasons"] == [] and not healthy["at_risk"]

        r = await svc.followup.post(f"/v1/clients/{cid}/satisfaction", json={"score": 1, "comment": "never again"})
        seq = r.json()["position"]["seq"]
        health = (await svc.followup.get(f"/v1/clients/{cid}/health", params={"min_position": seq})).json()
        assert health["score"] == 35 and health["at_risk"] and health["at_risk_reason"] == "health 35 is below 60"
        assert [h["score"] for h in health["history"]] == [
            100,
            60,
            35,
        ]  # the score, then the recovery it opened and health["trend_30_days"] == -65
        assert any("recovery is open" in reason for reason in health["reasons"])
        then = await svc.followup.get(f"/v1/clients/{cid}/health", params={"as_of": FAR})
        assert then.status_code == 200 and then.json()["score"] == 35 and then.json()["at_risk"] is False
        assert (await svc.followup.get(f"/v1/clients/{cid}/health", params={"as_of": "2000-01-01"})).status_code == 404

        listed = (await svc.followup.get("/v1/health/at-risk", params={"account_manager": "uma"})).json()
        assert [c["client_id"] for c in listed["items"]] == [cid] and listed["items"][0]["score"] == 35

        planner = svc.followup_app.state.planner
        assert (await planner.run_once())["at_risk"] == 1
        assert (await planner.run_once())["at_risk"] == 0  # once per spell
        items = await agenda(svc, "uma")
        assert [i["kind"] for i in items][:2] == ["recovery", "at_risk"]

        engine = svc.followup_app.state.runtime.engine
        last = (await svc.followup.get(f"/v1/clients/{cid}")).json()["version"]
        await svc.followup.get(f"/v1/clients/{cid}/health", params={"min_position": last})
        _, report = await ProjectionRebuild(
            "followup", ClientHealthProjection, engine, STREAMS["followup"], registry, suffix=VERIFY_SUFFIX
        ).verify(nats)
        assert report.keys_agree and report.rows_agree, report


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_late_or_blocked_work_and_a_late_review_lower_health_until_settled(
    nats, nats_url, database_url, tmp_path
):
    async with all_three(nats_url, database_url, tmp_path) as svc:
        cid = await register(svc, manager="uma")
        review = await review_of(svc, cid)

        async def reasons_become(expected: list[str]):
            async def read():
                health = await ok(svc.followup.get(f"/v1/clients/{cid}/health"))
                return health if health and health["reasons"] == expected else None

            return await eventually(read, what=f"health reasons {expected}")

        _, wo = await handed_off(svc, cid, "site", "web", due_in_days=3)
        await work(svc, wo, ("accept", {"member": "bob"}), ("start", {}), ("block", {"reason": "no access"}))
        await reasons_become(["-5: 1 work order blocked in delivery"])

        svc.clock.now += timedelta(days=400)  # the work order and the review are both late now
        assert await svc.apps["delivery"].state.scheduler.run_once() == 1
        planner = svc.followup_app.state.planner
        assert (await planner.run_once())["reviews_overdue"] == 1
        await reasons_become(
            [
                "-10: 1 work order overdue in delivery",
                "-5: 1 work order blocked in delivery",
                "-10: 1 review past its date",
            ]
        )
        assert (await planner.run_once())["reviews_overdue"] == 0  # once per due date

        await work(svc, wo, ("unblock", {}), ("complete", {"note": "done"}))
        await contact(svc, review)
        settled = await reasons_become([])
        assert settled["score"] == 100 and [h["score"] for h in settled["history"]][-1] == 100

        engine = svc.followup_app.state.runtime.engine
        last = (await svc.followup.get(f"/v1/clients/{cid}")).json()["version"]
        await svc.followup.get(f"/v1/clients/{cid}/health", params={"min_position": last})
        _, report = await ProjectionRebuild(
            "followup", ClientHealthProjection, engine, STREAMS["followup"], registry, suffix=VERIFY_SUFFIX
        ).verify(nats)
        assert report.keys_agree and report.rows_agree, report
