"""Follow-up end to end, with intake and delivery on a real broker: the loop from handoff to a
won opportunity that becomes a new request, every contact-policy rule, the handover brief,
tiers and cadence, programs, redelivery and bad input."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from baton_shared.contracts import STREAMS, registry
from baton_shared.projections.rebuild import VERIFY_SUFFIX, ProjectionRebuild
from baton_shared.eventstore.provisioning import js_api
from baton_followup.scheduler import planner as planner_module
from baton_followup.scheduler.planner import IN_FLIGHT
from baton_followup.projections import OpportunitiesProjection, ProgramsProjection
from baton_intake.reactions import request_id_for
from tests.integration.services import all_three, eventually

pytestmark = pytest.mark.nats
FAR = "2099-12-31"


@pytest.fixture
async def svc(nats, nats_url, tmp_path):
    async with all_three(nats_url, f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}", tmp_path) as running:
        yield running


async def ok(call, expect: int = 200):
    r = await call
    return r.json() if r.status_code == expect else None


async def register(svc, name="Acme", manager="alice", revenue=None, **policy) -> str:
    body = {"name": name, "segment": "B2B", "account_manager": manager}
    if revenue is not None:
        body["annual_revenue"] = str(revenue)
    if policy:
        body["contact_policy"] = policy
    r = await svc.intake.post("/v1/clients", json=body)
    assert r.status_code == 201, r.text
    cid = r.json()["ids"]["client_id"]
    await eventually(lambda: ok(svc.followup.get(f"/v1/clients/{cid}")), what=f"relationship {cid}")
    return cid


async def deliver(svc, cid: str, summary: str, department: str) -> str:
    """A need handed to one department, done, and accepted by the client."""
    rid = (await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": summary})).json()["ids"]["request_id"]
    due = (svc.clock.now.date() + timedelta(days=30)).isoformat()
    r = await svc.intake.post(
        f"/v1/requests/{rid}/handoffs", json={"work": [{"department": department, "scope": summary, "due_by": due}]}
    )
    wo = r.json()["ids"]["handoff_ids"][0]
    await eventually(lambda: ok(svc.delivery.get(f"/v1/work-orders/{wo}")), what="work order")
    for action, body in (("accept", {"member": "bob"}), ("start", {}), ("complete", {"note": "done"})):
        assert (await svc.delivery.post(f"/v1/work-orders/{wo}/{action}", json=body)).status_code == 200
    r = await svc.delivery.post(
        f"/v1/requests/{rid}/acceptance", json={"accepted": True, "satisfaction": 4, "feedback": "fine"}
    )
    assert r.status_code == 200, r.text
    return rid


async def opportunities(svc, cid: str, count: int, **params) -> list[dict]:
    async def listed():
        page = await ok(svc.followup.get("/v1/opportunities", params={"client_id": cid, **params}))
        return page and len(page["items"]) >= count and page["items"]

    return await eventually(listed, what=f"{count} opportunities")


async def follow_ups(svc, cid: str, kind: str) -> list[dict]:
    brief = await ok(svc.followup.get(f"/v1/clients/{cid}/brief"))
    return [f for f in brief["promises_due"] if f["kind"] == kind]


async def agenda(
    svc, manager: str, due_before: str = FAR, position: int | None = None, include: str | None = None
) -> list[dict]:
    params = {"account_manager": manager, "due_before": due_before, "limit": 200}
    if include:
        params["include"] = include
    if position:
        params["min_position"] = position
    r = await svc.followup.get("/v1/agenda", params=params)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def stored(nats, stream: str = "FOLLOWUP") -> int:
    return (await js_api(nats, f"STREAM.INFO.{stream}"))["state"]["messages"]


async def agrees_with_a_clean_rebuild(app, service: str, make, nats) -> bool:
    """The live projection holds exactly what a clean rebuild from the log holds (``baton projections verify``)."""
    runtime = app.state.runtime
    rebuild = ProjectionRebuild(service, make, runtime.engine, STREAMS[service], registry, suffix=VERIFY_SUFFIX)
    _, verification = await rebuild.verify(nats)
    return verification.keys_agree and verification.rows_agree


# --- the loop --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_the_loop_closes_from_handoff_to_a_new_request(nats, nats_url, database_url, tmp_path):
    async with all_three(nats_url, database_url, tmp_path) as svc:
        cid = await register(svc)
        rid = await deliver(svc, cid, "Build a family house", "construction")

        offers = await opportunities(svc, cid, 2)
        assert {o["kind"] for o in offers} >= {"furniture", "landscaping"}
        assert all(o["reason"] and o["request_id"] == rid for o in offers)
        satisfaction = await eventually(lambda: follow_ups(svc, cid, "satisfaction"), what="satisfaction check")
        assert satisfaction[0]["due_on"] == (svc.clock.now.date() + timedelta(days=7)).isoformat()
        relationship = (await svc.followup.get(f"/v1/clients/{cid}")).json()
        assert [s["score"] for s in relationship["satisfaction"]] == [4]  # given at acceptance

        furniture = next(o for o in offers if o["kind"] == "furniture")
        oid = furniture["opportunity_id"]
        valued = await svc.followup.post(
            f"/v1/opportunities/{oid}/estimate", json={"estimated_value": "4000", "currency": "EUR"}
        )
        assert valued.status_code == 200, valued.text
        assert (
            await svc.followup.post(f"/v1/opportunities/{oid}/offer", json={"channel": "meeting"})
        ).status_code == 200
        won = await svc.followup.post(
            f"/v1/opportunities/{oid}/win",
            json={"note": "oak, three rooms", "agreed_value": "3500.00", "currency": "EUR"},
        )
        assert won.status_code == 200, won.text
        late = await svc.followup.post(
            f"/v1/opportunities/{oid}/estimate", json={"estimated_value": "1", "currency": "EUR"}
        )
        assert late.status_code == 409 and "is won" in late.json()["detail"]

        new_request = await eventually(
            lambda: ok(svc.intake.get(f"/v1/requests/{request_id_for(oid)}")), what="new request"
        )
        assert new_request["client_id"] == cid and "Furnish" in new_request["summary"]
        timeline = (await svc.intake.get(f"/v1/clients/{cid}/timeline")).json()["items"]
        captured = [
            t
            for t in timeline
            if t["event_type"] == "NeedCaptured" and t["payload"].get("source_opportunity_id") == oid
        ]
        assert len(captured) == 1

        review = await eventually(lambda: follow_ups(svc, cid, "outcome_review"), what="outcome review")
        assert review[0]["due_on"] == (svc.clock.now.date() + timedelta(days=90)).isoformat()
        other_money = {"delivered_value": "as_promised", "realised_value": "3800", "currency": "USD"}
        assert (await svc.followup.post(f"/v1/opportunities/{oid}/outcome", json=other_money)).status_code == 409
        r = await svc.followup.post(
            f"/v1/opportunities/{oid}/outcome",
            json={"delivered_value": "as_promised", "note": "happy", "realised_value": "3800", "currency": "EUR"},
        )
        assert r.status_code == 200, r.text
        done = (
            await svc.followup.get(f"/v1/opportunities/{oid}", params={"min_position": r.json()["position"]["seq"]})
        ).json()
        assert done["status"] == "reviewed" and done["delivered_value"] == "as_promised"
        money = {k: done[k] for k in ("estimated_value", "agreed_value", "realised_value", "currency")}
        assert money == {
            "estimated_value": "4000",
            "agreed_value": "3500.00",
            "realised_value": "3800",
            "currency": "EUR",
        }
        brief = (
            await svc.followup.get(f"/v1/clients/{cid}/brief", params={"min_position": r.json()["position"]["seq"]})
        ).json()
        assert brief["outcome_reviews"][0]["opportunity_id"] == oid
        assert await agrees_with_a_clean_rebuild(svc.followup_app, "followup", OpportunitiesProjection, nats)


# --- the contact policy ------------------------------------------------------------------------


async def contact(svc, fid: str, outcome: str = "reached", channel: str = "phone", expect: int = 201) -> dict:
    r = await svc.followup.post(
        f"/v1/follow-ups/{fid}/contacts", json={"channel": channel, "outcome": outcome, "note": "n"}
    )
    assert r.status_code == expect, r.text
    return r.json()


async def review_of(svc, cid: str) -> str:
    reviews = await eventually(lambda: follow_ups(svc, cid, "review"), what="review follow-up")
    return reviews[0]["follow_up_id"]


async def suppressions(svc, cid: str, position: int) -> list[dict]:
    return (await svc.followup.get(f"/v1/clients/{cid}", params={"min_position": position})).json()["suppressions"]


async def test_do_not_contact_refuses_records_and_hides(svc, nats):
    cid = await register(svc, manager="dina", do_not_contact=True)
    fid = await review_of(svc, cid)
    refused = await contact(svc, fid, expect=409)
    assert refused["refusal"] == "do_not_contact" and "do-not-contact" in refused["detail"]
    position = (await js_api(nats, "STREAM.INFO.FOLLOWUP"))["state"]["last_seq"]
    assert [s["code"] for s in await suppressions(svc, cid, position)] == ["do_not_contact"]
    assert await agenda(svc, "dina", position=position) == []


async def test_the_frequency_cap_refuses_then_lets_through_after_30_days(svc, nats):
    cid = await register(svc, manager="erik", max_contacts_per_30_days=1)
    first = await contact(svc, await review_of(svc, cid))  # done: the next review is scheduled
    listed = await agenda(svc, "erik", position=first["position"]["seq"])
    assert listed == []  # the next review exists, but the cap would refuse it
    next_review = (await follow_ups(svc, cid, "review"))[0]["follow_up_id"]
    held = await agenda(svc, "erik", include="held")  # asked for: listed, with the policy's reason
    assert [(i["follow_up_id"], i["may_contact"], i["not_now_code"]) for i in held] == [
        (next_review, False, "frequency_cap")
    ]
    assert "next contact possible on" in held[0]["not_now"]
    refused = await contact(svc, next_review, expect=409)
    assert refused["refusal"] == "frequency_cap" and "next contact possible on" in refused["detail"]
    svc.clock.now += timedelta(days=31)
    assert [i["follow_up_id"] for i in await agenda(svc, "erik")] == [next_review]
    assert [(i["may_contact"], i["not_now"]) for i in await agenda(svc, "erik", include="held")] == [(True, None)]
    await contact(svc, next_review)


async def test_a_stop_holds_until_the_client_policy_changes(svc, nats):
    cid = await register(svc, manager="fay")
    await contact(svc, await review_of(svc, cid), outcome="stop")
    await deliver(svc, cid, "Build a house", "construction")
    satisfaction = (await eventually(lambda: follow_ups(svc, cid, "satisfaction"), what="satisfaction"))[0][
        "follow_up_id"
    ]
    assert (await contact(svc, satisfaction, expect=409))["refusal"] == "stopped"
    svc.clock.now += timedelta(days=400)
    assert await agenda(svc, "fay") == []
    r = await svc.intake.put(f"/v1/clients/{cid}/contact-policy", json={"max_contacts_per_30_days": 2})
    assert r.status_code == 200

    async def lifted():
        return (await svc.followup.get(f"/v1/clients/{cid}")).json()["stopped_on"] is None

    await eventually(lifted, what="stop lifted by the new policy")
    assert satisfaction in [i["follow_up_id"] for i in await agenda(svc, "fay")]
    await contact(svc, satisfaction)


async def test_a_declined_offer_cools_down_its_kind(svc, nats):
    cid = await register(svc, manager="gus")
    await deliver(svc, cid, "Build a house", "construction")
    first = next(o for o in await opportunities(svc, cid, 2) if o["kind"] == "furniture")
    await svc.followup.post(f"/v1/opportunities/{first['opportunity_id']}/offer", json={})
    r = await svc.followup.post(
        f"/v1/opportunities/{first['opportunity_id']}/decline", json={"reason": "no budget this year"}
    )
    assert r.status_code == 200, r.text
    await deliver(svc, cid, "Build a villa", "construction")
    second = next(
        o for o in await opportunities(svc, cid, 4) if o["kind"] == "furniture" and o["status"] == "identified"
    )
    refused = await svc.followup.post(f"/v1/opportunities/{second['opportunity_id']}/offer", json={"channel": "email"})
    assert refused.status_code == 409 and refused.json()["refusal"] == "cool_down", refused.text
    svc.clock.now += timedelta(days=60)
    offers_listed = [i for i in await agenda(svc, "gus") if i["kind"] == "offer"]
    assert second["opportunity_id"] not in [i["opportunity_id"] for i in offers_listed]
    assert any(i["offer_kind"] == "landscaping" for i in offers_listed)
    svc.clock.now += timedelta(days=31)
    assert (await svc.followup.post(f"/v1/opportunities/{second['opportunity_id']}/offer", json={})).status_code == 200


async def test_a_channel_outside_the_preferred_ones_is_refused(svc, nats):
    cid = await register(svc, manager="hal", preferred_channels=["email"])
    fid = await review_of(svc, cid)
    assert (await contact(svc, fid, channel="phone", expect=409))["refusal"] == "channel"
    await contact(svc, fid, channel="email")


# --- brief, tiers, programs ----------------------------------------------------------------------


async def test_an_account_manager_change_produces_a_brief_and_an_introduction(svc, nats):
    cid = await register(svc, manager="ivy")
    await svc.intake.post(f"/v1/clients/{cid}/notes", json={"text": "never call before 10am"})
    rid = (await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "New office fit-out"})).json()["ids"][
        "request_id"
    ]
    due = (svc.clock.now.date() + timedelta(days=20)).isoformat()
    await svc.intake.post(
        f"/v1/requests/{rid}/handoffs", json={"work": [{"department": "design", "scope": "layout", "due_by": due}]}
    )
    await contact(svc, await review_of(svc, cid))
    r = await svc.intake.put(
        f"/v1/clients/{cid}/account-manager", json={"account_manager": "jon", "handover_note": "likes detail"}
    )
    assert r.status_code == 200, r.text

    async def introduced():
        items = await agenda(svc, "jon")
        return [i for i in items if i["kind"] == "introduction"]

    intro = (await eventually(introduced, what="introduction on the new manager's agenda"))[0]
    brief = (await svc.followup.get(f"/v1/clients/{cid}/brief", params={"brief_id": intro["brief_id"]})).json()
    content = brief["brief"]
    assert brief["account_manager"] == "jon" and brief["previous_account_manager"] == "ivy"
    assert content["handover_note"] == "likes detail"
    assert [n["text"] for n in content["nuances"]] == ["never call before 10am"]
    assert content["open_requests"][0]["request_id"] == rid
    assert content["open_requests"][0]["promises"][0] == {
        "handoff_id": content["open_requests"][0]["promises"][0]["handoff_id"],
        "department": "design",
        "scope": "layout",
        "due_by": due,
    }
    assert content["last_contacts"][0]["outcome"] == "reached"
    assert await agenda(svc, "ivy") == []  # the client's follow-ups moved with the client


async def test_tiers_and_review_cadence(svc, nats):
    ids = [await register(svc, name=f"C{n}", manager="kim", revenue=n * 1_000_000) for n in range(1, 6)]

    async def tiers():
        rows = [(await svc.followup.get(f"/v1/clients/{c}")).json() for c in ids]
        return [(r["tier"], r["review_every_days"]) for r in rows]

    # five clients: one key seat, the top one
    await eventually(lambda: _equal(tiers(), [("standard", 90)] * 4 + [("key", 30)]), what="top client key")
    today = svc.clock.now.date()
    assert (await follow_ups(svc, ids[4], "review"))[0]["due_on"] == (today + timedelta(days=30)).isoformat()
    assert (await follow_ups(svc, ids[0], "review"))[0]["due_on"] == (today + timedelta(days=90)).isoformat()

    assert (
        await svc.intake.put(f"/v1/clients/{ids[0]}/revenue", json={"annual_revenue": "9000000"})
    ).status_code == 200
    await eventually(lambda: _first(tiers(), ("key", 30)), what="re-tiered on revenue change")
    assert (await follow_ups(svc, ids[0], "review"))[0]["due_on"] == (today + timedelta(days=30)).isoformat()
    # the former top client lost its seat: the planner sees it
    assert (await svc.followup_app.state.planner.run_once())["retiered"] == 1
    # the planner's events reach the read model through its projection, as every write does
    await eventually(lambda: _equal(tiers(), [("key", 30)] + [("standard", 90)] * 4), what="the former top re-tiered")
    assert (await svc.followup_app.state.planner.run_once())["retiered"] == 0


async def _equal(probe, expected):
    return await probe == expected


async def _first(probe, expected):
    return (await probe)[0] == expected


async def test_programs_dates_and_a_refused_early_cancellation(svc, nats):
    cid = await register(svc, revenue=2_500_000)
    r = await svc.followup.post(f"/v1/clients/{cid}/programs", json={"name": "Key care", "starts_on": "2026-01-31"})
    assert r.status_code == 201, r.text
    pid = r.json()["ids"]["program_id"]
    program = (
        await svc.followup.get(f"/v1/programs/{pid}", params={"min_position": r.json()["position"]["seq"]})
    ).json()
    assert program["monthly_fee"] == "3500" and program["minimum_term_ends_on"] == "2026-07-31"
    assert program["ends_on"] == "2027-01-31" and program["notice_deadline"] == "2027-01-01"
    brief = (
        await svc.followup.get(f"/v1/clients/{cid}/brief", params={"min_position": r.json()["position"]["seq"]})
    ).json()
    kinds = {f["kind"]: f["due_on"] for f in brief["promises_due"]}
    assert kinds["program_notice"] == "2026-12-18" and kinds["program_renewal"] == "2027-01-17"

    svc.clock.now = svc.clock.now.replace(year=2026, month=5, day=1)
    refused = await svc.followup.post(f"/v1/programs/{pid}/cancel", json={"reason": "costs"})
    assert refused.status_code == 409 and "possible from 2026-07-31" in refused.json()["detail"]
    svc.clock.now = svc.clock.now.replace(month=8, day=10)
    cancelled = await svc.followup.post(f"/v1/programs/{pid}/cancel", json={"reason": "costs"})
    assert cancelled.status_code == 200, cancelled.text
    program = (
        await svc.followup.get(f"/v1/programs/{pid}", params={"min_position": cancelled.json()["position"]["seq"]})
    ).json()
    assert program["status"] == "cancelled" and program["cancellation_effective_on"] == "2026-09-09"


async def test_the_provider_ends_one_program_and_a_client_switches_from_another(svc, nats):
    cid = await register(svc, revenue=2_500_000)
    first = await svc.followup.post(f"/v1/clients/{cid}/programs", json={"name": "Care"})
    old = first.json()["ids"]["program_id"]
    svc.clock.now = svc.clock.now + timedelta(days=20)  # inside the minimum term: a switch is agreed, not notice
    switched = await svc.followup.post(
        f"/v1/programs/{old}/switch",
        json={"name": "Care Plus", "reason": "the new program"},
        params={"min_position": first.json()["position"]["seq"]},
    )
    assert switched.status_code == 201, switched.text
    new = switched.json()["ids"]["program_id"]
    at = {"min_position": switched.json()["position"]["seq"]}
    was, now = [(await svc.followup.get(f"/v1/programs/{p}", params=at)).json() for p in (old, new)]
    today = svc.clock.now.date().isoformat()
    assert (was["status"], was["ended_on"], was["switched_to"], was["end_reason"]) == (
        "ended",
        today,
        new,
        "the new program",
    )
    assert (now["status"], now["name"], now["starts_on"]) == ("active", "Care Plus", today)
    again = await svc.followup.post(f"/v1/programs/{old}/switch", json={"name": "X", "reason": "again"})
    assert again.status_code == 409 and "is ended" in again.json()["detail"]

    ended = await svc.followup.post(f"/v1/programs/{new}/end", json={"reason": "we stop this program"}, params=at)
    assert ended.status_code == 200, ended.text
    gone = (
        await svc.followup.get(f"/v1/programs/{new}", params={"min_position": ended.json()["position"]["seq"]})
    ).json()
    assert (gone["status"], gone["end_reason"], gone["switched_to"]) == ("ended", "we stop this program", None)
    assert (await svc.followup.post(f"/v1/programs/{new}/end", json={"reason": "twice"})).status_code == 409
    assert await agrees_with_a_clean_rebuild(svc.followup_app, "followup", ProgramsProjection, nats)


# --- redelivery and bad input ---------------------------------------------------------------------


async def test_a_redelivered_acceptance_schedules_nothing_twice(svc, nats):
    cid = await register(svc)
    await deliver(svc, cid, "Build a house", "construction")
    await opportunities(svc, cid, 2)
    await eventually(lambda: follow_ups(svc, cid, "satisfaction"), what="satisfaction")
    before = await stored(nats)
    # The acceptance reaches follow-up again as a new message (same event, new message id).
    accepted = await js_api(nats, "DIRECT.GET.DELIVERY", {"last_by_subj": "delivery.request.*.DeliveryAccepted"})
    raw = await nats.request("$JS.API.DIRECT.GET.DELIVERY", b'{"last_by_subj": "delivery.request.*.DeliveryAccepted"}')
    await nats.jetstream().publish(raw.headers["Nats-Subject"], raw.data, headers={"Nats-Msg-Id": "redelivered-1"})
    runner = svc.followup_app.state.runtime.reactions["delivery_acceptance"]
    handled = runner.handled

    async def handled_again():
        return runner.handled > handled

    await eventually(handled_again, what="redelivered acceptance handled")
    assert await stored(nats) == before
    assert accepted is not None


async def test_bad_input_is_4xx_and_appends_nothing(svc, nats):
    cid = await register(svc, revenue=100)
    fid = await review_of(svc, cid)
    missing = "6b1f0000-0000-4000-8000-000000000000"
    before = await stored(nats)
    cases = [
        ("POST", f"/v1/follow-ups/{fid}/contacts", {"channel": "pigeon", "outcome": "reached"}, 422),
        ("POST", f"/v1/follow-ups/{fid}/contacts", {"channel": "phone"}, 422),
        ("POST", f"/v1/follow-ups/{fid}/contacts", {"channel": "phone", "outcome": "reached", "x": 1}, 422),
        ("POST", f"/v1/follow-ups/{missing}/contacts", {"channel": "phone", "outcome": "reached"}, 404),
        ("POST", "/v1/follow-ups/nope/contacts", {"channel": "phone", "outcome": "reached"}, 404),
        ("POST", f"/v1/clients/{cid}/satisfaction", {"score": 6}, 422),
        ("POST", f"/v1/clients/{cid}/satisfaction", {"score": 3, "request_id": "x"}, 422),
        ("POST", f"/v1/clients/{missing}/satisfaction", {"score": 3}, 404),
        ("POST", f"/v1/opportunities/{missing}/offer", {}, 404),
        ("POST", f"/v1/opportunities/{missing}/decline", {}, 422),
        ("POST", f"/v1/opportunities/{missing}/decline", {"reason": "x"}, 404),
        ("POST", f"/v1/opportunities/{missing}/outcome", {"delivered_value": "lots"}, 422),
        (
            "POST",
            f"/v1/opportunities/{missing}/outcome",
            {"delivered_value": "as_promised", "realised_value": "1"},
            422,
        ),
        ("POST", f"/v1/opportunities/{missing}/outcome", {"delivered_value": "as_promised", "currency": "EUR"}, 422),
        (
            "POST",
            f"/v1/opportunities/{missing}/outcome",
            {"delivered_value": "as_promised", "realised_value": "1", "currency": "EUR"},
            404,
        ),
        ("POST", f"/v1/opportunities/{missing}/estimate", {"estimated_value": "10"}, 422),
        ("POST", f"/v1/opportunities/{missing}/estimate", {"estimated_value": "-10", "currency": "EUR"}, 422),
        ("POST", f"/v1/opportunities/{missing}/estimate", {"estimated_value": "10", "currency": "euro"}, 422),
        ("POST", f"/v1/opportunities/{missing}/estimate", {"estimated_value": 10, "currency": "EUR"}, 422),
        ("POST", f"/v1/opportunities/{missing}/estimate", {"estimated_value": "10", "currency": "EUR"}, 404),
        ("POST", f"/v1/opportunities/{missing}/win", {"agreed_value": "10"}, 422),
        ("POST", f"/v1/opportunities/{missing}/win", {"currency": "EUR"}, 422),
        ("POST", f"/v1/opportunities/{missing}/win", {"agreed_value": None, "currency": None}, 422),
        # Well-formed terms that contradict each other: a rule between two fields (the OpenAPI
        # document cannot state it), so 409 like any rule, not 422.
        ("POST", f"/v1/clients/{cid}/programs", {"name": "P", "minimum_term_months": 13}, 409),
        ("POST", f"/v1/clients/{cid}/programs", {"name": ""}, 422),
        ("POST", f"/v1/clients/{missing}/programs", {"name": "P"}, 404),
        ("POST", f"/v1/programs/{missing}/cancel", {"reason": "x"}, 404),
        ("POST", f"/v1/programs/{missing}/end", {"reason": "x"}, 404),
        ("POST", f"/v1/programs/{missing}/end", {}, 422),
        ("POST", f"/v1/programs/{missing}/end", {"reason": "  "}, 422),
        ("POST", f"/v1/programs/{missing}/switch", {"name": "P", "reason": "x"}, 404),
        ("POST", f"/v1/programs/{missing}/switch", {"name": "P"}, 422),
        ("POST", f"/v1/programs/{missing}/switch", {"name": "P", "reason": "x", "starts_on": "2026-01-01"}, 422),
        ("POST", f"/v1/programs/{missing}/switch", {"name": "P", "reason": "x", "notice_days": 400}, 422),
        ("GET", "/v1/agenda?due_before=someday", None, 422),
        ("GET", "/v1/opportunities?status=maybe", None, 422),
        ("GET", f"/v1/clients/{missing}", None, 404),
        ("GET", f"/v1/clients/{cid}/brief?brief_id={missing}", None, 404),
        ("GET", f"/v1/follow-ups/{missing}", None, 404),
    ]
    for method, path, body, status in cases:
        r = await svc.followup.request(method, path, json=body)
        assert r.status_code == status, (method, path, body, r.text)
        assert r.json()["detail"], (path, r.text)
    assert await stored(nats) == before


async def test_a_dormant_client_gets_one_reactivation_per_quiet_spell(svc, nats):
    cid = await register(svc, manager="lou")
    planner = svc.followup_app.state.planner
    assert (await planner.run_once())["reactivations"] == 0  # asked for nothing yet, but only just registered
    svc.clock.now += timedelta(days=181)
    assert (await planner.run_once())["reactivations"] == 1

    async def reactivation():
        return [i for i in await agenda(svc, "lou") if i["kind"] == "reactivation"]

    listed = (await eventually(reactivation, what="reactivation on the agenda"))[0]
    assert listed["client_id"] == cid and "wake the client up" in listed["reason"]
    assert (await planner.run_once())["reactivations"] == 0  # recorded once
    await contact(svc, listed["follow_up_id"])
    assert (await planner.run_once())["reactivations"] == 0  # the same quiet spell: not again


async def test_the_planner_records_many_clients_several_at_once_and_each_once(svc, nats):
    ids = {await register(svc, manager="kim") for _ in range(3 * IN_FLIGHT)}
    planner = svc.followup_app.state.planner
    application = svc.followup_app.state.application
    schedule, now, most = application.schedule_reactivation, 0, 0

    async def counted(cmd):
        nonlocal now, most
        now += 1
        most = max(most, now)
        try:
            return await schedule(cmd)
        finally:
            now -= 1

    application.schedule_reactivation = counted
    svc.clock.now += timedelta(days=181)

    async def all_quiet():
        return len(await planner.views.dormant_clients(svc.clock.now - timedelta(days=180))) == len(ids)

    await eventually(all_quiet, what="every client's profile")
    assert planner.status() == {
        "name": "planner",
        "running": False,
        "waiting_for_read_models": False,
        "passes": 0,
        "last_pass": None,
    }
    assert (await planner.run_once())["reactivations"] == len(ids)
    assert most == IN_FLIGHT, f"the planner recorded at most {most} at once"
    status = planner.status()
    assert status["passes"] == 1 and not status["running"]
    assert status["last_pass"]["reactivations"] == len(ids) and status["last_pass"]["seconds"] > 0

    async def all_listed():
        listed = [i["client_id"] for i in await agenda(svc, "kim") if i["kind"] == "reactivation"]
        return len(listed) == len(ids) and listed

    assert sorted(await eventually(all_listed, what="every reactivation on the agenda")) == sorted(ids)
    assert (await planner.run_once())["reactivations"] == 0


async def test_one_pass_marks_every_page_of_overdue_reviews(svc, nats, monkeypatch):
    monkeypatch.setattr(planner_module, "REVIEWS_PER_PAGE", 2)
    reviews = set()
    for _ in range(5):
        reviews.add(await review_of(svc, await register(svc, manager="ivo")))
    svc.clock.now += timedelta(days=400)
    planner = svc.followup_app.state.planner
    today = svc.clock.now.date()

    async def listed():
        return {r[1] for r in await planner.views.reviews_overdue(today, 10)} >= reviews

    await eventually(listed, what="the reviews past their date")
    assert await planner.mark_reviews_overdue() == len(reviews)  # three pages in one pass

    async def marked():
        return not reviews & {r[1] for r in await planner.views.reviews_overdue(today, 10)}

    await eventually(marked, what="the reviews recorded overdue")
    assert await planner.mark_reviews_overdue() == 0


async def test_the_planner_waits_for_read_models_behind_the_log(svc, nats, monkeypatch):
    """A client who asked for something a moment ago must not look dormant to a model behind the log."""
    monkeypatch.setattr(planner_module, "READ_MODELS_WAIT_SECONDS", 0.5)
    cid = await register(svc, manager="ann")
    runtime = svc.followup_app.state.runtime
    planner = svc.followup_app.state.planner
    from_intake = next(f for f in runtime.feeds if f.stream_name == "INTAKE")

    async def intake_live():
        return from_intake.live

    await eventually(intake_live, what="follow-up reading intake live")  # started in the background
    await from_intake.stop_live()
    svc.clock.now += timedelta(days=181)
    r = await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "a new kitchen"})
    assert r.status_code == 201, r.text
    running = asyncio.create_task(planner.run_forever(runtime))
    try:

        async def waiting():
            return planner.status()["waiting_for_read_models"]

        async def passed():
            return planner.passes >= 1

        await eventually(waiting, what="the planner waiting")
        assert planner.passes == 0
        await from_intake.start_live(nats)
        await eventually(passed, what="a pass once the models caught up")
        assert not planner.status()["waiting_for_read_models"]
        assert planner.last_pass["reactivations"] == 0, "the client asked a moment ago: not dormant"
    finally:
        running.cancel()
