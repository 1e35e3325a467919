"""One voice per person, on a real broker with two follow-up replicas: one person behind three
accounts is contacted once under a cap of one, however the three managers race; a stop or
do-not-contact on one account holds for all; an account managed elsewhere gets no outreach;
forgetting one account's personal data keeps the group's decisions; bad input changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager
from baton_followup.domain import ContactGroup
from baton_shared.eventstore.provisioning import js_api

from tests.integration.services import ADMIN, TEST_TOKENS, all_three, eventually

pytestmark = pytest.mark.nats
EMAIL = "Ann.Smith@Example.com"


@contextlib.asynccontextmanager
async def two_followups(nats_url, database_url, tmp_path):
    """Intake, delivery and follow-up, and a second follow-up replica on the same broker and database."""
    from baton_followup.composition import create_app
    from baton_followup.settings import FollowupSettings

    async with all_three(nats_url, database_url, tmp_path) as svc:
        settings = FollowupSettings(
            nats_url=nats_url,
            data_dir=tmp_path,
            database_url=database_url,
            read_wait_timeout_seconds=5,
            log_level="WARNING",
            tokens=TEST_TOKENS,
        )
        second = create_app(settings, clock=svc.clock, run_planner=False)
        async with (
            LifespanManager(second, startup_timeout=30, shutdown_timeout=30),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=second), base_url="http://followup-2", headers=ADMIN
            ) as other,
        ):
            yield svc, other


async def register(svc, manager: str, email: str = EMAIL, **policy) -> str:
    body = {
        "name": f"{manager}'s account",
        "segment": "B2B",
        "account_manager": manager,
        "contacts": [{"name": "Ann Smith", "email": email}],
        "contact_policy": policy,
    }
    r = await svc.intake.post("/v1/clients", json=body)
    assert r.status_code == 201, r.text
    return r.json()["ids"]["client_id"]


async def review_of(svc, cid: str) -> str:
    async def reviews():
        r = await svc.followup.get(f"/v1/clients/{cid}/brief")
        return r.status_code == 200 and [f["follow_up_id"] for f in r.json()["promises_due"] if f["kind"] == "review"]

    return (await eventually(reviews, what=f"review of {cid}"))[0]


async def group_of(svc, cids: list[str]) -> str:
    """The accounts' contact group, once follow-up has all of them in it."""
    intake = svc.apps["intake"].state.application
    groups = {(await intake.store.history("client", cid)).events[0].event.contact_group for cid in cids}
    assert len(groups) == 1 and None not in groups, groups
    group_id = groups.pop()
    followup = svc.followup_app.state.application

    async def joined():
        history = await followup.store.history("contact_group", group_id)
        return set(ContactGroup.from_history(group_id, history).members) == set(cids)

    await eventually(joined, what="every account in the group")
    return group_id


async def everything_stored(nats) -> str:
    text = []
    for stream in ("INTAKE", "FOLLOWUP"):
        last = (await js_api(nats, f"STREAM.INFO.{stream}"))["state"]["last_seq"]
        for seq in range(1, last + 1):
            msg = await js_api(nats, f"STREAM.MSG.GET.{stream}", {"seq": seq})
            text.append(str(msg))
    return "\n".join(text)


@pytest.mark.parametrize(
    "database_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
async def test_one_person_behind_three_accounts_is_contacted_once_under_a_cap_of_one(
    nats, nats_url, database_url, tmp_path
):
    async with two_followups(nats_url, database_url, tmp_path) as (svc, other):
        managers = ["alice", "bob", "carl"]
        cids = [
            await register(svc, m, email=e, max_contacts_per_30_days=1)
            for m, e in zip(managers, (EMAIL, EMAIL.lower(), EMAIL.upper()), strict=True)
        ]
        await group_of(svc, cids)
        reviews = [await review_of(svc, cid) for cid in cids]

        # Three managers at once, through two replicas.
        replicas = [svc.followup, other, svc.followup]
        answers = await asyncio.gather(
            *(
                replica.post(f"/v1/follow-ups/{fid}/contacts", json={"channel": "phone", "outcome": "reached"})
                for replica, fid in zip(replicas, reviews, strict=True)
            )
        )
        codes = sorted(a.status_code for a in answers)
        assert codes == [201, 409, 409], [a.text for a in answers]
        winner = next(n for n, a in enumerate(answers) if a.status_code == 201)
        for n, answer in enumerate(answers):
            if n != winner:
                refused = answer.json()
                assert refused["refusal"] == "frequency_cap"
                assert cids[winner] in refused["detail"] and managers[winner] in refused["detail"], refused["detail"]

        # The refused managers' suppressions are recorded; the slot is free again 30 days on.
        position = (await js_api(nats, "STREAM.INFO.FOLLOWUP"))["state"]["last_seq"]
        loser = next(n for n in range(3) if n != winner)
        r = await other.get(f"/v1/clients/{cids[loser]}", params={"min_position": position})
        assert [s["code"] for s in r.json()["suppressions"]] == ["frequency_cap"]
        for cid, manager in zip(cids, managers, strict=True):  # the group's events leave the accounts' rows alone
            assert (await svc.followup.get(f"/v1/clients/{cid}")).json()["account_manager"] == manager
        # The other managers' agendas say so before anyone calls: held, with the group's reason.
        for n in (n for n in range(3) if n != winner):
            asked = {"account_manager": managers[n], "due_before": "2100-01-01", "min_position": position}
            listed = (await other.get("/v1/agenda", params=asked)).json()["items"]
            assert reviews[n] not in [i["follow_up_id"] for i in listed]
            held = (await svc.followup.get("/v1/agenda", params={**asked, "include": "held"})).json()["items"]
            [item] = [i for i in held if i["follow_up_id"] == reviews[n]]
            assert item["may_contact"] is False and item["not_now_code"] == "frequency_cap", item
            assert cids[winner] in item["not_now"], item["not_now"]
            relationship = (await other.get(f"/v1/clients/{cids[n]}", params={"min_position": position})).json()
            assert relationship["may_contact_now"] is False
            assert relationship["contact_refused_because"]["code"] == "frequency_cap"
        svc.clock.now += timedelta(days=31)
        r = await other.post(f"/v1/follow-ups/{reviews[loser]}/contacts", json={"channel": "phone", "outcome": "stop"})
        assert r.status_code == 201, r.text

        # A stop on one account holds on every account of the person.
        svc.clock.now += timedelta(days=31)
        third = next(n for n in range(3) if n not in (winner, loser))
        r = await svc.followup.post(
            f"/v1/follow-ups/{reviews[third]}/contacts", json={"channel": "phone", "outcome": "reached"}
        )
        assert r.status_code == 409 and r.json()["refusal"] == "stopped" and cids[loser] in r.json()["detail"], r.text

        # Forgetting the winner's personal data: the decisions hold, the address is nowhere in clear.
        assert (await svc.intake.delete(f"/v1/clients/{cids[winner]}/personal-data")).status_code == 200
        r = await other.post(
            f"/v1/follow-ups/{reviews[third]}/contacts", json={"channel": "phone", "outcome": "reached"}
        )
        assert r.status_code == 409 and r.json()["refusal"] == "stopped", r.text
        stored = (await everything_stored(nats)).lower()
        assert "ann.smith" not in stored and "example.com" not in stored


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_an_account_managed_elsewhere_gets_no_outreach_and_bad_input_changes_nothing(
    nats, nats_url, database_url, tmp_path
):
    async with two_followups(nats_url, database_url, tmp_path) as (svc, other):
        cid = await register(svc, "dina", email="dina.client@example.org")
        fid = await review_of(svc, cid)
        r = await other.put(f"/v1/clients/{cid}/managed-by", json={"managed_by": "Agency Nine"})
        assert r.status_code == 200, r.text
        asked = {"account_manager": "dina", "due_before": "2100-01-01", "include": "held"}
        asked["min_position"] = r.json()["position"]["seq"]
        [item] = [i for i in (await other.get("/v1/agenda", params=asked)).json()["items"] if i["follow_up_id"] == fid]
        assert item["may_contact"] is False and item["not_now_code"] == "managed_elsewhere", item
        r = await svc.followup.post(f"/v1/follow-ups/{fid}/contacts", json={"channel": "email", "outcome": "reached"})
        assert r.status_code == 409 and r.json()["refusal"] == "managed_elsewhere", r.text
        assert "Agency Nine" in r.json()["detail"]

        before = (await js_api(nats, "STREAM.INFO.FOLLOWUP"))["state"]["messages"]
        for path, body, status in (
            (f"/v1/clients/{cid}/managed-by", {"managed_by": "  "}, 422),
            (f"/v1/clients/{cid}/managed-by", {"managed_by": "x" * 201}, 422),
            (f"/v1/clients/{cid}/managed-by", {"managed_by": "A", "extra": 1}, 422),
            (f"/v1/clients/{cid}/managed-by", {}, 422),
            ("/v1/clients/not-a-uuid/managed-by", {"managed_by": "A"}, 404),
            ("/v1/clients/6b1f0000-0000-4000-8000-000000000000/managed-by", {"managed_by": "A"}, 404),
        ):
            r = await svc.followup.put(path, json=body)
            assert r.status_code == status, (body, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        assert (await js_api(nats, "STREAM.INFO.FOLLOWUP"))["state"]["messages"] == before

        r = await svc.followup.put(f"/v1/clients/{cid}/managed-by", json={"managed_by": None})
        assert r.status_code == 200, r.text
        r = await other.post(f"/v1/follow-ups/{fid}/contacts", json={"channel": "email", "outcome": "reached"})
        assert r.status_code == 201, r.text


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_accounts_of_a_parent_organisation_share_one_cap(nats, nats_url, database_url, tmp_path):
    async with two_followups(nats_url, database_url, tmp_path) as (svc, other):
        shop = await register(svc, "alice", email="shop@acme.example", max_contacts_per_30_days=1)
        works = await register(svc, "bob", email="works@acme.example", max_contacts_per_30_days=1)
        before = (await js_api(nats, "STREAM.INFO.INTAKE"))["state"]["messages"]
        for path, body, status in (
            (f"/v1/clients/{shop}/parent-organisation", {"parent_organisation": " "}, 422),
            (f"/v1/clients/{shop}/parent-organisation", {"parent_organisation": "x" * 201}, 422),
            (f"/v1/clients/{shop}/parent-organisation", {}, 422),
            ("/v1/clients/6b1f0000-0000-4000-8000-000000000000/parent-organisation", {"parent_organisation": "A"}, 404),
        ):
            r = await svc.intake.put(path, json=body)
            assert r.status_code == status, (body, r.text)
        assert (await js_api(nats, "STREAM.INFO.INTAKE"))["state"]["messages"] == before

        groups = set()
        for cid, name in ((shop, "Acme Holding"), (works, "ACME  holding")):
            r = await svc.intake.put(f"/v1/clients/{cid}/parent-organisation", json={"parent_organisation": name})
            assert r.status_code == 200, r.text
            groups.add(r.json()["ids"]["group_id"])
        assert len(groups) == 1
        group_id = groups.pop()
        followup = svc.followup_app.state.application

        async def both_joined():
            history = await followup.store.history("contact_group", group_id)
            return set(ContactGroup.from_history(group_id, history).members) == {shop, works}

        await eventually(both_joined, what="both accounts in the organisation's group")
        # Retried with its key, through the other replica: the first answer again, one slot taken.
        key = {"Idempotency-Key": "one-voice-retry-0001"}
        shop_review = await review_of(svc, shop)
        body = {"channel": "phone", "outcome": "reached"}
        first = await svc.followup.post(f"/v1/follow-ups/{shop_review}/contacts", json=body, headers=key)
        assert first.status_code == 201, first.text
        again = await other.post(f"/v1/follow-ups/{shop_review}/contacts", json=body, headers=key)
        assert again.status_code == 201 and again.json()["ids"] == first.json()["ids"], again.text
        history = await followup.store.history("contact_group", group_id)
        assert len(ContactGroup.from_history(group_id, history).slots) == 1
        r = await other.post(
            f"/v1/follow-ups/{await review_of(svc, works)}/contacts", json={"channel": "phone", "outcome": "reached"}
        )
        assert r.status_code == 409 and r.json()["refusal"] == "frequency_cap", r.text
        assert shop in r.json()["detail"] and "alice" in r.json()["detail"]
