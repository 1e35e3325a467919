"""Intake's HTTP API end to end: the running app, a real broker, SQLite and PostgreSQL."""

import time
import uuid
from datetime import date, datetime, timedelta

import httpx
import pytest
from asgi_lifespan import LifespanManager

from baton_shared.eventstore.provisioning import js_api
from baton_shared.service.settings import BatonSettings
from baton_intake.composition import create_app
from tests.integration.services import ADMIN, TEST_TOKENS, bearer

pytestmark = pytest.mark.nats
TODAY = date.today()
SOON = (TODAY + timedelta(days=30)).isoformat()


@pytest.fixture
async def api(nats, nats_url, database_url, tmp_path):
    settings = BatonSettings(
        nats_url=nats_url,
        database_url=database_url,
        data_dir=tmp_path,
        read_wait_timeout_seconds=2,
        log_level="WARNING",
        tokens=TEST_TOKENS,
    )
    app = create_app(settings)
    async with LifespanManager(app, startup_timeout=30, shutdown_timeout=30):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://intake", headers=ADMIN
        ) as client:
            yield client


async def stored(nats) -> int:
    return (await js_api(nats, "STREAM.INFO.INTAKE"))["state"]["messages"]


async def register(api, **overrides) -> dict:
    body = {
        "name": "Acme Build",
        "segment": "B2B",
        "account_manager": "alice",
        "contacts": [
            {"name": "Bob Builder", "role": "owner", "email": "bob@example.com", "phone": "+33 1 23 45 67 89"}
        ],
        "business_description": "builds houses",
        "annual_revenue": "1200000.50",
        **overrides,
    }
    r = await api.post("/v1/clients", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def open_request(api, client_id: str) -> dict:
    r = await api.post(
        f"/v1/clients/{client_id}/requests",
        json={
            "summary": "Build a house",
            "requirements": {"floors": 2, "heating": "heat pump"},
            "budget": "350000",
            "desired_by": SOON,
        },
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_client_journey_through_the_api(api, nats):
    client = await register(api)
    cid = client["ids"]["client_id"]
    r = await api.get(f"/v1/clients/{cid}", params={"min_position": client["position"]["seq"]})
    assert r.status_code == 200 and r.json()["annual_revenue"] == "1200000.50"

    note = await api.post(f"/v1/clients/{cid}/notes", json={"text": "never call before 10am"})
    assert note.status_code == 201
    policy = await api.put(
        f"/v1/clients/{cid}/contact-policy", json={"max_contacts_per_30_days": 2, "preferred_channels": ["email"]}
    )
    assert policy.status_code == 200 and policy.json()["appended"] == 1
    same = await api.put(
        f"/v1/clients/{cid}/contact-policy", json={"max_contacts_per_30_days": 2, "preferred_channels": ["email"]}
    )
    assert same.json()["appended"] == 0  # nothing changed, nothing recorded
    manager = await api.put(
        f"/v1/clients/{cid}/account-manager", json={"account_manager": "carol", "handover_note": "key account"}
    )
    assert manager.status_code == 200
    seen = (
        await api.get(f"/v1/clients/{cid}", headers={"Baton-Min-Position": str(manager.json()["position"]["seq"])})
    ).json()
    assert seen["account_manager"] == "carol"
    assert [n["text"] for n in seen["notes"]] == ["never call before 10am"]
    assert seen["contact_policy"] == {
        "do_not_contact": False,
        "max_contacts_per_30_days": 2,
        "preferred_channels": ["email"],
    }
    assert [h["account_manager"] for h in seen["account_manager_history"]] == ["alice", "carol"]

    request = await open_request(api, cid)
    rid = request["ids"]["request_id"]
    assert (
        await api.post(f"/v1/requests/{rid}/clarifications", json={"question": "How many floors?", "answer": "Two"})
    ).status_code == 201
    before = await stored(nats)
    handoff = await api.post(
        f"/v1/requests/{rid}/handoffs",
        json={
            "work": [
                {"department": "design", "scope": "plans", "due_by": SOON},
                {"department": "Production", "scope": "build", "due_by": SOON},
            ]
        },
    )
    assert handoff.status_code == 201, handoff.text
    body = handoff.json()
    assert body["appended"] == 2 and len(body["ids"]["handoff_ids"]) == 2
    assert await stored(nats) == before + 2
    change = await api.post(
        f"/v1/requests/{rid}/changes", json={"department": "design", "description": "bigger windows"}
    )
    assert change.status_code == 201
    view = (await api.get(f"/v1/requests/{rid}", params={"min_position": change.json()["position"]["seq"]})).json()
    assert view["status"] == "handed_off"
    assert [h["department"] for h in view["handoffs"]] == ["design", "production"]
    assert {h["account_manager"] for h in view["handoffs"]} == {"carol"}
    assert view["clarifications"][0]["answer"] == "Two"
    assert view["changes"][0]["description"] == "bigger windows"

    cancel = await api.post(f"/v1/requests/{rid}/cancel", json={"reason": "budget cut"})
    assert cancel.status_code == 200
    timeline = await api.get(f"/v1/clients/{cid}/timeline", params={"min_position": cancel.json()["position"]["seq"]})
    types = [e["event_type"] for e in timeline.json()["items"]]
    assert types == [
        "ClientRegistered",
        "ClientNoteAdded",
        "ContactPolicyChanged",
        "AccountManagerAssigned",
        "NeedCaptured",
        "ClarificationRecorded",
        "HandoffRequested",
        "HandoffRequested",
        "ChangeRequested",
        "RequestCancelled",
    ]
    assert timeline.json()["total"] == 10

    listed = await api.get(
        "/v1/clients", params={"account_manager": "carol", "min_position": cancel.json()["position"]["seq"]}
    )
    assert [c["client_id"] for c in listed.json()["items"]] == [cid]
    assert (await api.get("/v1/clients", params={"account_manager": "alice"})).json()["total"] == 0


@pytest.mark.parametrize(
    "body, field",
    [
        ({"segment": "B2B", "account_manager": "a"}, "name"),
        ({"name": "X", "segment": "B2X", "account_manager": "a"}, "segment"),
        ({"name": "   ", "segment": "B2B", "account_manager": "a"}, "name"),
        ({"name": "X", "segment": "B2B", "account_manager": "a", "annual_revenue": -1}, "annual_revenue"),
        ({"name": "X", "segment": "B2B", "account_manager": "a", "colour": "red"}, "colour"),
        (
            {"name": "X", "segment": "B2B", "account_manager": "a", "contacts": [{"name": "P", "email": "nope"}]},
            "email",
        ),
        ({"name": "X" * 201, "segment": "B2B", "account_manager": "a"}, "name"),
    ],
)
async def test_invalid_client_input_is_422_naming_the_field_and_appends_nothing(api, nats, body, field):
    before = await stored(nats)
    r = await api.post("/v1/clients", json=body)
    assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
    assert any(field in map(str, error["loc"]) for error in r.json()["errors"]), r.json()
    assert all(error["msg"] for error in r.json()["errors"])
    assert r.json()["detail"].startswith("invalid input: ")
    if str(body.get("name", "x")).isspace():  # said in words, not as the document's pattern
        assert r.json()["errors"][0]["msg"] == "must not be blank, nor hold a NUL character", r.json()
    assert await stored(nats) == before


async def test_rule_breaks_are_409_with_the_reason_and_append_nothing(api, nats):
    cid = (await register(api))["ids"]["client_id"]
    rid = (await open_request(api, cid))["ids"]["request_id"]
    yesterday = (TODAY - timedelta(days=1)).isoformat()
    cases = [
        (f"/v1/requests/{rid}/handoffs", {"work": []}, "at least one"),
        (
            f"/v1/requests/{rid}/handoffs",
            {"work": [{"department": "design", "scope": "x", "due_by": yesterday}]},
            "in the past",
        ),
        (f"/v1/requests/{rid}/changes", {"description": "x"}, "nothing has been handed off"),
        (f"/v1/clients/{cid}/requests", {"summary": "x", "desired_by": yesterday}, "in the past"),
    ]
    before = await stored(nats)
    for path, body, reason in cases:
        r = await api.post(path, json=body)
        assert r.status_code == 409, (path, r.text)
        assert reason in r.json()["detail"]
    assert (await api.put(f"/v1/clients/{cid}/account-manager", json={"account_manager": "alice"})).status_code == 409
    assert await stored(nats) == before

    await api.post(f"/v1/requests/{rid}/cancel", json={"reason": "no budget"})
    before = await stored(nats)
    r = await api.post(
        f"/v1/requests/{rid}/handoffs", json={"work": [{"department": "design", "scope": "x", "due_by": SOON}]}
    )
    assert r.status_code == 409 and "cancelled" in r.json()["detail"]
    assert (await api.post(f"/v1/requests/{rid}/cancel", json={"reason": "again"})).status_code == 409
    assert await stored(nats) == before


async def test_unknown_ids_are_404_and_append_nothing(api, nats):
    before = await stored(nats)
    unknown = str(uuid.uuid4())
    for method, path, body in [
        ("GET", f"/v1/clients/{unknown}", None),
        ("GET", f"/v1/clients/{unknown}/timeline", None),
        ("GET", f"/v1/requests/{unknown}", None),
        ("GET", "/v1/requests/not-a-uuid", None),
        ("POST", f"/v1/clients/{unknown}/notes", {"text": "x"}),
        ("POST", "/v1/clients/a.b.>/notes", {"text": "x"}),
        ("POST", f"/v1/clients/{unknown}/requests", {"summary": "x"}),
        ("POST", f"/v1/requests/{unknown}/clarifications", {"question": "q", "answer": "a"}),
        ("POST", f"/v1/requests/{unknown}/handoffs", {"work": [{"department": "d", "scope": "s", "due_by": SOON}]}),
        ("POST", f"/v1/requests/{unknown}/cancel", {"reason": "x"}),
        ("PUT", f"/v1/clients/{unknown}/account-manager", {"account_manager": "x"}),
        ("PUT", f"/v1/clients/{unknown}/contact-policy", {}),
    ]:
        r = await api.request(method, path, json=body)
        assert r.status_code == 404, (method, path, r.text)
        assert "not found" in r.json()["detail"]
    assert await stored(nats) == before


async def test_a_position_beyond_the_log_is_refused_at_once(api):
    """No write answered a position past the stream's last sequence: waiting for it would
    hold the connection for the whole read wait (5 s here) and then answer 503."""
    last = (await register(api))["position"]["seq"]
    for params, headers, loc in (
        ({"min_position": last + 10_000_000}, {}, ["query", "min_position"]),
        ({}, {"Baton-Min-Position": str(last + 1)}, ["header", "Baton-Min-Position"]),
    ):
        started = time.monotonic()
        r = await api.get("/v1/clients", params=params, headers=headers)
        assert time.monotonic() - started < 2.0, "waited for a position no write answered"
        assert r.status_code == 409, r.text
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert problem["type"] == "urn:baton:problem:position-beyond-log" and problem["status"] == 409
        assert f"beyond the last sequence of stream INTAKE ({last})" in problem["detail"]
        assert problem["errors"][0]["loc"] == loc and problem["last_seq"] == last
    assert (await api.get("/v1/clients", params={"min_position": last})).status_code == 200
    assert (await api.get("/v1/clients", params={"min_position": -1})).status_code == 422


async def test_health_metrics_and_documents(api):
    await register(api)
    health = await api.get("/health")
    assert health.status_code == 200
    body = health.json()
    assert body["status"] == "ok" and body["nats"]["connected"] and body["database"]["ok"]
    assert {p["projection"] for p in body["projections"]} == {
        "intake.clients",
        "intake.requests",
        "intake.timeline",
        "intake.delivery_progress",
    }
    metrics = (await api.get("/metrics")).text
    assert "baton_events_appended_total" in metrics and "baton_http_requests_total" in metrics
    assert "baton_projection_lag_events" in metrics
    asyncapi = (await api.get("/asyncapi.json")).json()
    assert asyncapi["asyncapi"].startswith("3.")
    assert asyncapi["channels"]["HandoffRequested"]["address"] == "intake.request.{aggregate_id}.HandoffRequested"
    assert "HandoffRequested" in asyncapi["components"]["schemas"]
    openapi = (await api.get("/openapi.json")).json()
    assert "/v1/requests/{request_id}/handoffs" in openapi["paths"]
    assert (await api.get("/docs")).status_code == 200


async def test_writes_carry_the_http_correlation_id_as_causation(api, nats):
    r = await api.post(
        "/v1/clients",
        json={"name": "Traceable", "segment": "B2C", "account_manager": "alice"},
        headers={"X-Correlation-Id": "call-42", **bearer("alice")},
    )
    assert r.headers["X-Correlation-Id"] == "call-42"
    cid = r.json()["ids"]["client_id"]
    timeline = await api.get(f"/v1/clients/{cid}/timeline", params={"min_position": r.json()["position"]["seq"]})
    [event] = timeline.json()["items"]
    assert event["causation_id"] == "call-42" and event["actor"] == "alice" and event["correlation_id"] == cid
    assert datetime.fromisoformat(event["occurred_at"]).tzinfo is not None


async def test_clients_are_found_by_part_of_their_name_in_any_case(api):
    """The console's "my clients" search: ``name=`` matches part of the name, any case;
    ``%`` and ``_`` are plain characters, not wildcards."""
    for name in ("Acme Build", "ACME Logistics", "Bakery 100%", "Zeta_Works"):
        last = await register(api, name=name)
    wait = {"min_position": last["position"]["seq"]}
    found = (await api.get("/v1/clients", params={"name": "acme", **wait})).json()
    assert {c["name"] for c in found["items"]} == {"ACME Logistics", "Acme Build"} and found["total"] == 2
    percent = (await api.get("/v1/clients", params={"name": "0%", **wait})).json()["items"]
    assert [c["name"] for c in percent] == ["Bakery 100%"]
    assert (await api.get("/v1/clients", params={"name": "me_b", **wait})).json()["total"] == 0
    assert (await api.get("/v1/clients", params={"name": "x" * 201})).status_code == 422
    assert (await api.get("/v1/clients", params={"name": "a\x00"})).status_code == 422  # PostgreSQL takes no NUL
