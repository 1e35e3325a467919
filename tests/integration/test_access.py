"""Access: every endpoint of the three services, with no token, a bad one, the wrong role or
scope (403) and the right one (neither 401 nor 403).

``CASES`` must name every ``/v1`` route (and ``/metrics``) of every service's OpenAPI:
a new endpoint without a case fails ``test_every_endpoint_has_an_access_case``.
"""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest

from baton_shared.service.access import TokenBook, TokenConfigError, hash_token
from baton_shared.service.settings import BatonSettings
from tests.integration.services import TEST_TOKENS, TOKENS, all_three, bearer, eventually

pytestmark = pytest.mark.nats

EVERYONE = ("admin", "ops", "head", "alice", "bob", "design", "build")
A = "alice"  # owns the client everything below belongs to; bob is another account manager
OWNER_WRITE = {"allow": ("admin", A), "deny": ("ops", "head", "bob", "design", "build")}
OWNER_READ = {"allow": ("admin", "ops", "head", A), "deny": ("bob", "design", "build")}
DEPT_WRITE = {"allow": ("admin", "design"), "deny": ("ops", "head", A, "bob", "build")}
MANAGERS_LIST = {"allow": ("admin", "ops", "head", A, "bob"), "deny": ("design", "build")}
REPORTS = {"allow": ("admin", "ops", "head"), "deny": (A, "bob", "design", "build")}
OPS_READ = {"allow": ("admin", "ops", "head"), "deny": (A, "bob", "design", "build")}

# (service, method, path template, body, who)
CASES = [
    (
        "intake",
        "POST",
        "/v1/clients",
        {"name": "New", "segment": "B2B", "account_manager": A},
        {"allow": ("admin", A), "deny": ("ops", "head", "bob", "design", "build")},
    ),
    ("intake", "GET", "/v1/clients", None, MANAGERS_LIST),
    ("intake", "GET", "/v1/clients/{client_id}", None, OWNER_READ),
    ("intake", "GET", "/v1/clients/{client_id}/timeline", None, OWNER_READ),
    ("intake", "POST", "/v1/clients/{client_id}/notes", {"text": "prefers mornings"}, OWNER_WRITE),
    (
        "intake",
        "PUT",
        "/v1/clients/{client_id}/account-manager",
        {"account_manager": A, "handover_note": "stays"},
        {"allow": ("admin", "head", A), "deny": ("ops", "bob", "design", "build")},
    ),
    ("intake", "PUT", "/v1/clients/{client_id}/contact-policy", {"preferred_channels": ["email"]}, OWNER_WRITE),
    ("intake", "PUT", "/v1/clients/{client_id}/revenue", {"annual_revenue": "100000"}, OWNER_WRITE),
    (
        "intake",
        "PUT",
        "/v1/clients/{client_id}/parent-organisation",
        {"parent_organisation": "Acme Holding"},
        OWNER_WRITE,
    ),
    ("intake", "POST", "/v1/clients/{client_id}/requests", {"summary": "a shed"}, OWNER_WRITE),
    ("intake", "DELETE", "/v1/clients/{spare_client_id}/personal-data", None, OWNER_WRITE),
    ("intake", "GET", "/v1/requests/{request_id}", None, OWNER_READ),
    (
        "intake",
        "POST",
        "/v1/requests/{request_id}/clarifications",
        {"question": "roof?", "answer": "flat"},
        OWNER_WRITE,
    ),
    (
        "intake",
        "POST",
        "/v1/requests/{request_id}/handoffs",
        {"work": [{"department": "design", "scope": "more", "due_by": "{due}"}]},
        OWNER_WRITE,
    ),
    (
        "intake",
        "POST",
        "/v1/requests/{request_id}/changes",
        {"department": "design", "description": "bigger"},
        OWNER_WRITE,
    ),
    ("intake", "POST", "/v1/requests/{spare_request_id}/cancel", {"reason": "changed mind"}, OWNER_WRITE),
    ("intake", "GET", "/metrics", None, {"allow": ("admin", "ops", "head"), "deny": (A, "design")}),
    (
        "delivery",
        "GET",
        "/v1/work-orders",
        None,
        {"allow": ("admin", "ops", "head", "design", "build"), "deny": (A, "bob")},
    ),
    (
        "delivery",
        "GET",
        "/v1/work-orders/{work_order_id}",
        None,
        {"allow": ("admin", "ops", "head", "design", A), "deny": ("bob", "build")},
    ),
    ("delivery", "POST", "/v1/work-orders/{work_order_id}/accept", {"member": "dora"}, DEPT_WRITE),
    ("delivery", "POST", "/v1/work-orders/{work_order_id}/start", {}, DEPT_WRITE),
    ("delivery", "POST", "/v1/work-orders/{work_order_id}/progress", {"note": "half", "percent": 50}, DEPT_WRITE),
    ("delivery", "POST", "/v1/work-orders/{work_order_id}/block", {"reason": "waiting"}, DEPT_WRITE),
    ("delivery", "POST", "/v1/work-orders/{work_order_id}/unblock", {}, DEPT_WRITE),
    ("delivery", "POST", "/v1/work-orders/{work_order_id}/complete", {"note": "done"}, DEPT_WRITE),
    ("delivery", "GET", "/v1/requests/{request_id}/delivery", None, OWNER_READ),
    ("delivery", "POST", "/v1/requests/{request_id}/acceptance", {"accepted": True, "satisfaction": 5}, OWNER_WRITE),
    (
        "delivery",
        "GET",
        "/v1/departments/{department}/board",
        None,
        {"allow": ("admin", "ops", "head", "design"), "deny": (A, "build")},
    ),
    ("delivery", "GET", "/v1/escalations", None, MANAGERS_LIST),
    ("delivery", "GET", "/metrics", None, {"allow": ("admin", "ops", "head"), "deny": (A, "design")}),
    ("followup", "GET", "/v1/agenda", None, MANAGERS_LIST),
    ("followup", "GET", "/v1/follow-ups/{follow_up_id}", None, OWNER_READ),
    (
        "followup",
        "POST",
        "/v1/follow-ups/{follow_up_id}/contacts",
        {"channel": "phone", "outcome": "reached"},
        OWNER_WRITE,
    ),
    ("followup", "GET", "/v1/clients/{client_id}", None, OWNER_READ),
    ("followup", "GET", "/v1/clients/{client_id}/brief", None, OWNER_READ),
    ("followup", "POST", "/v1/clients/{client_id}/satisfaction", {"score": 4}, OWNER_WRITE),
    ("followup", "PUT", "/v1/clients/{client_id}/managed-by", {"managed_by": None}, OWNER_WRITE),
    ("followup", "POST", "/v1/clients/{client_id}/programs", {"name": "Care", "starts_on": "{today}"}, OWNER_WRITE),
    ("followup", "GET", "/v1/opportunities", None, MANAGERS_LIST),
    ("followup", "GET", "/v1/opportunities/{opportunity_id}", None, OWNER_READ),
    (
        "followup",
        "POST",
        "/v1/opportunities/{opportunity_id}/estimate",
        {"estimated_value": "100", "currency": "EUR"},
        OWNER_WRITE,
    ),
    ("followup", "POST", "/v1/opportunities/{opportunity_id}/offer", {"channel": "email"}, OWNER_WRITE),
    ("followup", "POST", "/v1/opportunities/{opportunity_id}/win", {"note": "yes"}, OWNER_WRITE),
    ("followup", "POST", "/v1/opportunities/{opportunity_id}/decline", {"reason": "no"}, OWNER_WRITE),
    ("followup", "POST", "/v1/opportunities/{opportunity_id}/outcome", {"delivered_value": "as_promised"}, OWNER_WRITE),
    ("followup", "GET", "/v1/programs/{program_id}", None, OWNER_READ),
    ("followup", "POST", "/v1/programs/{program_id}/cancel", {"reason": "costs"}, OWNER_WRITE),
    ("followup", "POST", "/v1/clients/{client_id}/brief/acknowledgement", None, OWNER_WRITE),
    *(
        ("followup", "GET", f"/v1/reports/{name}", None, REPORTS)
        for name in ("punctuality", "lead-times", "portfolios", "rotation", "revenue")
    ),
    ("followup", "GET", "/v1/recoveries/{recovery_id}", None, OWNER_READ),
    ("followup", "GET", "/v1/clients/{client_id}/health", None, OWNER_READ),
    ("followup", "GET", "/v1/health/at-risk", None, MANAGERS_LIST),
    (
        "followup",
        "POST",
        "/v1/recoveries/{recovery_id}/close",
        {"actions_taken": "called", "client_answer": "ok"},
        OWNER_WRITE,
    ),
    ("followup", "POST", "/v1/programs/{program_id}/end", {"reason": "we stop it"}, OWNER_WRITE),
    ("followup", "POST", "/v1/programs/{program_id}/switch", {"name": "Care Plus", "reason": "moved"}, OWNER_WRITE),
    (
        "followup",
        "POST",
        "/v1/clients/{client_id}/complaints",
        {"category": "delay", "description": "late"},
        {"allow": ("admin", A, "design", "build"), "deny": ("ops", "head", "bob")},
    ),
    ("followup", "GET", "/v1/complaints", None, MANAGERS_LIST),
    (
        "followup",
        "GET",
        "/v1/complaints/{complaint_id}",
        None,
        {"allow": ("admin", "ops", "head", A, "design"), "deny": ("bob", "build")},
    ),
    (
        "followup",
        "GET",
        "/v1/departments/{department}/complaints",
        None,
        {"allow": ("admin", "ops", "head", "design"), "deny": (A, "bob", "build")},
    ),
    ("followup", "POST", "/v1/complaints/{complaint_id}/acknowledge", {"response": "on it"}, OWNER_WRITE),
    ("followup", "POST", "/v1/complaints/{complaint_id}/assign", {"department": "design"}, OWNER_WRITE),
    (
        "followup",
        "POST",
        "/v1/complaints/{complaint_id}/resolve",
        {"resolution": "redone", "root_cause": "rushed"},
        {"allow": ("admin", A, "design"), "deny": ("ops", "head", "bob", "build")},
    ),
    ("followup", "POST", "/v1/complaints/{complaint_id}/reopen", {"reason": "still late"}, OWNER_WRITE),
    ("followup", "POST", "/v1/complaints/{complaint_id}/confirm", None, OWNER_WRITE),
    ("followup", "GET", "/metrics", None, {"allow": ("admin", "ops", "head"), "deny": (A, "design")}),
    *(
        (service, "GET", "/v1/me", None, {"allow": EVERYONE, "deny": ()})
        for service in ("intake", "delivery", "followup")
    ),
    # every service's lane of a journey, and its parked events
    *(
        (service, "GET", "/v1/clients/{client_id}/events", None, OWNER_READ)
        for service in ("intake", "delivery", "followup")
    ),
    *(
        (service, "GET", "/v1/journeys/{correlation_id}/events", None, OPS_READ)
        for service in ("intake", "delivery", "followup")
    ),
    *((service, "GET", "/v1/parked", None, OPS_READ) for service in ("intake", "delivery", "followup")),
    ("intake", "GET", "/v1/me/sign-outs", None, {"allow": EVERYONE, "deny": ()}),
    ("intake", "POST", "/v1/me/sign-outs", None, {"allow": EVERYONE, "deny": ()}),
]
# {spare_request_id} is the route's {request_id}, {spare_client_id} its {client_id}: other ones of
# alice's, so cancelling and forgetting spare the first.


def routes_of(app) -> set[tuple[str, str]]:
    paths = app.openapi()["paths"]
    return {
        (method.upper(), path)
        for path, ops in paths.items()
        if path.startswith("/v1") or path == "/metrics"
        for method in ops
    }


def test_every_endpoint_has_an_access_case():
    from baton_delivery.composition import create_app as delivery
    from baton_followup.composition import create_app as followup
    from baton_intake.composition import create_app as intake

    settings = BatonSettings(database_url="sqlite+aiosqlite://", log_level="WARNING", tokens=TEST_TOKENS)
    for service, create in (("intake", intake), ("delivery", delivery), ("followup", followup)):
        covered = {
            (m, path.replace("{spare_request_id}", "{request_id}").replace("{spare_client_id}", "{client_id}"))
            for s, m, path, _, _ in CASES
            if s == service
        }
        assert routes_of(create(settings)) == covered, (
            f"{service}: routes without an access case, or cases without a route"
        )


def test_token_settings_are_checked_and_only_hashes_need_be_stored(tmp_path):
    token = "a-long-enough-secret-token"
    path = tmp_path / "tokens.json"
    path.write_text(
        json.dumps(
            {"tokens": [{"name": "zoe", "role": "department", "department": "Design", "sha256": hash_token(token)}]}
        )
    )
    book = TokenBook.from_settings(BatonSettings(tokens_file=path, tokens=TEST_TOKENS))
    zoe = book.identify(token)
    assert zoe is not None and (zoe.name, zoe.role, zoe.department) == ("zoe", "department", "design")
    assert book.identify(TOKENS["alice"]["token"]).name == "alice"
    assert book.identify("not-a-token") is None
    for bad, message in (
        ('[{"name": "x", "role": "king", "token": "0123456789abcdef"}]', "role"),
        ('[{"name": "x", "role": "department", "token": "0123456789abcdef"}]', "department"),
        ('[{"name": "x", "role": "ops", "token": "short"}]', "sha256"),
        ('[{"name": "x", "role": "ops", "sha256": "change-me"}]', "64 hex"),
        ("{not json", "not JSON"),
    ):
        with pytest.raises(TokenConfigError, match=message):
            TokenBook.from_settings(BatonSettings(tokens=bad))


async def call(client: httpx.AsyncClient, method: str, url: str, body, headers: dict[str, str]) -> httpx.Response:
    request = client.build_request(method, url, json=body)
    request.headers.pop("Authorization", None)  # the helpers' clients send the admin token by default
    request.headers.update(headers)
    return await client.send(request)


async def ok(probe, expect: int = 200):
    r = await probe
    return r.json() if r.status_code == expect else None


async def world(svc) -> dict[str, str]:
    """Alice's client with a request handed to design and build, a delivered request (so
    follow-up has a satisfaction check and opportunities), a program; bob's client."""
    today = svc.clock.now.date()
    due = (today + timedelta(days=30)).isoformat()
    cid = (await svc.intake.post("/v1/clients", json={"name": "Alpha", "segment": "B2B", "account_manager": A})).json()[
        "ids"
    ]["client_id"]
    bob = (
        await svc.intake.post("/v1/clients", json={"name": "Beta", "segment": "B2B", "account_manager": "bob"})
    ).json()
    spare_client = (
        await svc.intake.post("/v1/clients", json={"name": "Gamma", "segment": "B2C", "account_manager": A})
    ).json()
    rid = (await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "plans"})).json()["ids"]["request_id"]
    spare = (await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "spare"})).json()["ids"][
        "request_id"
    ]
    h = await svc.intake.post(
        f"/v1/requests/{rid}/handoffs",
        json={"work": [{"department": d, "scope": "s", "due_by": due} for d in ("design", "build")]},
    )
    design, build = h.json()["ids"]["handoff_ids"]
    built = (await svc.intake.post(f"/v1/clients/{cid}/requests", json={"summary": "Build a family house"})).json()[
        "ids"
    ]["request_id"]
    h = await svc.intake.post(
        f"/v1/requests/{built}/handoffs", json={"work": [{"department": "construction", "scope": "s", "due_by": due}]}
    )
    wo = h.json()["ids"]["handoff_ids"][0]
    await eventually(lambda: ok(svc.delivery.get(f"/v1/work-orders/{wo}")), what="work order")
    for action, body in (("accept", {"member": "carl"}), ("start", {}), ("complete", {"note": "done"})):
        assert (await svc.delivery.post(f"/v1/work-orders/{wo}/{action}", json=body)).status_code == 200
    assert (
        await svc.delivery.post(f"/v1/requests/{built}/acceptance", json={"accepted": True, "satisfaction": 4})
    ).status_code == 200

    async def identified():
        page = await ok(svc.followup.get("/v1/opportunities", params={"client_id": cid}))
        return page and page["items"]

    opportunities = await eventually(identified, what="opportunities")

    async def satisfaction_check():
        brief = await ok(svc.followup.get(f"/v1/clients/{cid}/brief"))
        return brief and [f for f in brief["promises_due"] if f["kind"] == "satisfaction"]

    follow_up = (await eventually(satisfaction_check, what="satisfaction check"))[0]["follow_up_id"]
    p = await svc.followup.post(
        f"/v1/clients/{cid}/programs",
        json={"name": "Key care", "starts_on": today.isoformat(), "trailing_12_month_revenue": "2500000"},
    )
    assert p.status_code == 201, p.text
    program = p.json()["ids"]["program_id"]
    await eventually(lambda: ok(svc.followup.get(f"/v1/programs/{program}")), what="program")
    await eventually(lambda: ok(svc.delivery.get(f"/v1/requests/{rid}/delivery")), what="delivery of the request")
    await eventually(lambda: ok(svc.followup.get(f"/v1/clients/{bob['ids']['client_id']}")), what="bob's relationship")
    spare_cid = spare_client["ids"]["client_id"]  # an unhappy client of alice's: a recovery (its offers are not needed)
    await eventually(lambda: ok(svc.followup.get(f"/v1/clients/{spare_cid}")), what="spare relationship")
    assert (await svc.followup.post(f"/v1/clients/{spare_cid}/satisfaction", json={"score": 1})).status_code == 201

    async def recovery():
        brief = await ok(svc.followup.get(f"/v1/clients/{spare_cid}/brief"))
        return brief and brief["recoveries"]

    recovery_id = (await eventually(recovery, what="recovery"))[0]["recovery_id"]
    k = await svc.followup.post(
        f"/v1/clients/{cid}/complaints", json={"category": "delay", "description": "late again"}
    )
    assert k.status_code == 201, k.text
    complaint = k.json()["ids"]["complaint_id"]
    await eventually(lambda: ok(svc.followup.get(f"/v1/complaints/{complaint}")), what="complaint")
    assert (
        await svc.followup.post(f"/v1/complaints/{complaint}/acknowledge", json={"response": "sorry"})
    ).status_code == 200
    assigned = await svc.followup.post(f"/v1/complaints/{complaint}/assign", json={"department": "design"})
    assert assigned.status_code == 200, assigned.text
    await svc.followup.get(f"/v1/complaints/{complaint}", params={"min_position": assigned.json()["position"]["seq"]})
    return {
        "client_id": cid,
        "request_id": rid,
        "correlation_id": rid,
        "spare_request_id": spare,
        "work_order_id": design,
        "build_work_order_id": build,
        "department": "design",
        "follow_up_id": follow_up,
        "opportunity_id": opportunities[0]["opportunity_id"],
        "program_id": program,
        "due": due,
        "today": today.isoformat(),
        "bob_client_id": bob["ids"]["client_id"],
        "spare_client_id": spare_client["ids"]["client_id"],
        "recovery_id": recovery_id,
        "complaint_id": complaint,
    }


def fill(value, ids: dict[str, str]):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, ids) for v in value]
    return value


async def test_every_endpoint_refuses_the_anonymous_and_the_wrong_role_and_serves_the_right_one(
    nats, nats_url, tmp_path
):
    async with all_three(nats_url, f"sqlite+aiosqlite:///{tmp_path / 'followup.sqlite3'}", tmp_path) as svc:
        ids = await world(svc)
        clients = {"intake": svc.intake, "delivery": svc.delivery, "followup": svc.followup}
        failures = []
        for service, method, template, body, who in CASES:
            url, payload, client = fill(template, ids), fill(body, ids), clients[service]
            what = f"{service} {method} {template}"
            for label, headers in (
                ("no token", {}),
                ("bad token", {"Authorization": "Bearer nope-nope-nope-nope"}),
                ("not bearer", {"Authorization": "Basic YWxpY2U6c2VjcmV0"}),
            ):
                r = await call(client, method, url, payload, headers)
                if (
                    r.status_code != 401
                    or "token" not in r.json()["detail"]
                    or r.headers.get("www-authenticate") != "Bearer"
                ):
                    failures.append(f"{what} with {label}: {r.status_code} {r.text[:200]}")
            assert set(who["allow"]) | set(who["deny"]) <= set(EVERYONE)
            for caller in who["deny"]:  # denials first: they change nothing
                r = await call(client, method, url, payload, bearer(caller))
                if r.status_code != 403 or TOKENS[caller]["name"] not in r.json()["detail"]:
                    failures.append(f"{what} as {caller}: expected 403, got {r.status_code} {r.text[:200]}")
            for caller in who["allow"]:
                r = await call(client, method, url, payload, bearer(caller))
                if r.status_code in (401, 403) or r.status_code >= 500:
                    failures.append(f"{what} as {caller}: expected access, got {r.status_code} {r.text[:200]}")
        assert not failures, "\n".join(failures)

        # Scopes inside the lists: forced to the caller's own, asking for another's is 403.
        alice, bob, design = bearer(A), bearer("bob"), bearer("design")
        mine = (await call(svc.intake, "GET", "/v1/clients", None, alice)).json()["items"]
        assert mine and {c["account_manager"] for c in mine} == {A}
        assert (await call(svc.intake, "GET", "/v1/clients?account_manager=bob", None, alice)).status_code == 403
        assert (await call(svc.delivery, "GET", "/v1/escalations?account_manager=bob", None, alice)).status_code == 403
        assert (await call(svc.followup, "GET", "/v1/agenda?account_manager=bob", None, alice)).status_code == 403
        bobs = (await call(svc.followup, "GET", "/v1/opportunities", None, bob)).json()
        assert (
            bobs["total"] == 0
            and (await call(svc.followup, "GET", "/v1/opportunities", None, alice)).json()["total"] > 0
        )
        listed = (await call(svc.delivery, "GET", "/v1/work-orders", None, design)).json()["items"]
        assert listed and {w["department"] for w in listed} == {"design"}
        assert (await call(svc.delivery, "GET", "/v1/work-orders?department=build", None, design)).status_code == 403
        r = await call(
            svc.delivery, "POST", f"/v1/work-orders/{ids['build_work_order_id']}/accept", {"member": "x"}, design
        )
        assert r.status_code == 403 and "department build" in r.json()["detail"]
        r = await call(
            svc.intake, "POST", "/v1/clients", {"name": "N", "segment": "B2B", "account_manager": "bob"}, alice
        )
        assert r.status_code == 403

        # The head: every client listed; reassigns (an unknown client is 404, not 403); no account
        # manager's or department's writes (above); escalations only past the grace period (3 days).
        head = bearer("head")
        everyone = (await call(svc.intake, "GET", "/v1/clients", None, head)).json()["items"]
        assert {c["account_manager"] for c in everyone} == {A, "bob"}
        r = await call(
            svc.intake,
            "PUT",
            "/v1/clients/00000000-0000-4000-8000-000000000000/account-manager",
            {"account_manager": "bob", "handover_note": "x"},
            head,
        )
        assert r.status_code == 404, r.text
        r = await call(
            svc.intake,
            "PUT",
            f"/v1/clients/{ids['bob_client_id']}/account-manager",
            {"account_manager": A, "handover_note": "alice takes over"},
            head,
        )
        assert r.status_code == 200, r.text
        start = svc.clock.now
        try:
            svc.clock.now = start + timedelta(days=33)  # build's work order: 3 days past due
            escalated = (await call(svc.delivery, "GET", "/v1/escalations", None, alice)).json()
            assert ids["build_work_order_id"] in {w["work_order_id"] for w in escalated["items"]}
            assert (await call(svc.delivery, "GET", "/v1/escalations", None, head)).json()["total"] == 0
            svc.clock.now = start + timedelta(days=34)  # 4 days: past the grace period
            escalated = (await call(svc.delivery, "GET", "/v1/escalations", None, head)).json()["items"]
            mine = (await call(svc.delivery, "GET", "/v1/escalations", None, alice)).json()["items"]
            assert ids["build_work_order_id"] in {w["work_order_id"] for w in escalated}
            overdue = {w["work_order_id"] for w in mine if "overdue" in w["reasons"]}
            assert {w["work_order_id"] for w in escalated} == overdue
            late = (await call(svc.delivery, "GET", "/v1/escalations?grace_days=10", None, head)).json()
            assert late["total"] == 0
        finally:
            svc.clock.now = start

        # The token's name is the events' actor; an unknown id is 404 for its owner's role too.
        r = await call(svc.intake, "POST", f"/v1/clients/{ids['client_id']}/notes", {"text": "by alice"}, alice)
        timeline = await call(
            svc.intake,
            "GET",
            f"/v1/clients/{ids['client_id']}/timeline?limit=1000&min_position={r.json()['position']['seq']}",
            None,
            alice,
        )
        notes = [e for e in timeline.json()["items"] if e["event_type"] == "ClientNoteAdded"]
        assert notes[-1]["payload"]["text"] == "by alice" and notes[-1]["actor"] == A
        assert (
            await call(svc.intake, "GET", "/v1/clients/00000000-0000-4000-8000-000000000000", None, alice)
        ).status_code == 404

        # Who a token belongs to, on every service (the console asks it at sign-in).
        for client in clients.values():
            assert (await call(client, "GET", "/v1/me", None, design)).json() == {
                "name": "dora",
                "role": "department",
                "department": "design",
            }
            assert (await call(client, "GET", "/v1/me", None, alice)).json() == {
                "name": A,
                "role": "account_manager",
                "department": None,
            }

        # Open without a token: health (compose checks), the API descriptions.
        for client in clients.values():
            for path in ("/health", "/openapi.json", "/asyncapi.json"):
                assert (await call(client, "GET", path, None, {})).status_code == 200, path
