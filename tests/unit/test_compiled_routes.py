"""Compiled route handlers answer exactly as FastAPI's own (baton_shared.service.compiled_routes).

One Baton app (its middlewares, error handlers and access rules) is built twice from
the same routes, once with compiled handlers and once with FastAPI's, and every
request below must get the same status, headers and body from both: good calls,
every kind of bad input, each way an access rule or an endpoint refuses.
"""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import Literal

import httpx
import pytest
from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from baton_delivery.composition import create_app as create_delivery
from baton_followup.composition import create_app as create_followup
from baton_intake.composition import create_app as create_intake
from baton_shared.domain import NotFound
from baton_shared.domain.errors import DomainRuleViolation
from baton_shared.service.access import DEPARTMENT, Identity, access_rule, authenticated, forbidden, roles
from baton_shared.service.app import create_service_app
from baton_shared.service.compiled_routes import NotCompiled, compile_route
from baton_shared.service.http import WriteOut, actor, causation
from baton_shared.service.settings import BatonSettings

pytestmark = pytest.mark.unit

TOKENS = [
    {"name": "api", "role": "admin", "token": "unit-admin-token-0000"},
    {"name": "dora", "role": "department", "department": "design", "token": "unit-design-token-000"},
    {"name": "olga", "role": "ops", "token": "unit-ops-token-000000"},
]
ADMIN, DESIGN, OPS = ({"Authorization": f"Bearer {t['token']}"} for t in TOKENS)


class NoteIn(BaseModel):
    note: str = Field(min_length=1, max_length=20)
    percent: int | None = Field(None, ge=0, le=100)
    when: Literal["now", "later"] = "now"


class EmptyIn(BaseModel):
    model_config = {"extra": "forbid"}


@access_rule
async def order_rule(order_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    if who.role == "admin":
        return who
    if order_id == "missing":
        raise NotFound(f"order {order_id} not found")
    if who.role != DEPARTMENT or not order_id.startswith(who.department or "-"):
        raise forbidden(who, f"act on order {order_id}")
    return who


async def application(request: Request) -> str:
    return request.app.state.marker


router = APIRouter(prefix="/v1/orders", tags=["orders"])


@router.post("/{order_id}/note", response_model=WriteOut, status_code=201)
async def note(
    order_id: str,
    body: NoteIn,
    app=Depends(application),
    who_acts=Depends(actor),
    cause=Depends(causation),
    who=Depends(order_rule),
) -> WriteOut:
    if body.note == "conflict":
        raise DomainRuleViolation("the order is closed")
    if body.note == "teapot":
        raise HTTPException(418, "short and stout", headers={"X-Why": "tea"})
    return WriteOut(
        ids={"order_id": order_id, "by": who_acts, "app": app, "cause": str(bool(cause))},
        position={"stream": "TEST", "seq": 7},
        appended=1 if body.percent is None else body.percent,
    )


@router.post("/{order_id}/close", response_model=WriteOut)
async def close(order_id: str, body: EmptyIn | None = None, who=Depends(order_rule)) -> WriteOut:
    return WriteOut(
        ids={"order_id": order_id, "body": str(body is not None)}, position={"stream": "TEST", "seq": 8}, appended=0
    )


@router.get("/{order_id}/summary", response_model=WriteOut)
async def summary(order_id: str, who=Depends(order_rule)) -> WriteOut:
    return WriteOut(ids={"order_id": order_id}, position={"stream": "TEST", "seq": 9}, appended=0)


async def position(
    min_position: int = Query(0, ge=0, le=2**63 - 1), baton_min_position: int = Header(0, ge=0, le=2**63 - 1)
) -> int:
    return max(min_position, baton_min_position)


@router.get("/{order_id}/view", response_model=WriteOut)
async def view(
    order_id: str,
    seen: int = Depends(position),
    kind: Literal["a", "b"] = Query("a"),
    flag: bool | None = Query(None),
    limit: int = Query(50, ge=1, le=200),
    who=Depends(order_rule),
) -> WriteOut:
    ids = {"order_id": order_id, "kind": kind, "flag": str(flag), "limit": str(limit)}
    return WriteOut(ids=ids, position={"stream": "TEST", "seq": seen}, appended=0)


@router.get("/{order_id}/lines/{line}", dependencies=[roles("department", what="read lines")])
async def line(
    order_id: str = Path(pattern=r"^[a-z]+-\d+$"),
    line: int = Path(ge=1, le=9),
    limit: int = Query(50, ge=1, le=200),
    tags: list[str] = Query([]),
    flag: bool | None = Query(None),
    x_trace: str | None = Header(None, max_length=8),
) -> dict:
    return {"order_id": order_id, "line": line, "limit": limit, "tags": tags, "flag": flag, "trace": x_trace}


def baton_app(compiled: bool):
    settings = BatonSettings(tokens=json.dumps(TOKENS), database_url="sqlite+aiosqlite:///:memory:")
    runtime = SimpleNamespace(settings=settings, service="intake")
    app = create_service_app(
        runtime, title="t", description="d", routers=[router], published=[], compile_handlers=compiled
    )
    app.state.marker = "the application"
    return app


CASES = [
    ("POST", "/v1/orders/design-1/note", ADMIN, {"json": {"note": "hello"}}),
    ("POST", "/v1/orders/design-1/note", DESIGN, {"json": {"note": "hello", "percent": 40, "when": "later"}}),
    ("POST", "/v1/orders/design-1/note", {**ADMIN, "X-Correlation-Id": "abc-1"}, {"json": {"note": "x"}}),
    ("POST", "/v1/orders/design-1/note", {}, {"json": {"note": "hello"}}),  # no token
    ("POST", "/v1/orders/design-1/note", {"Authorization": "Bearer nope-nope-nope-nope"}, {"json": {"note": "x"}}),
    ("POST", "/v1/orders/design-1/note", {"Authorization": "Basic abc"}, {"json": {"note": "x"}}),
    ("POST", "/v1/orders/build-1/note", DESIGN, {"json": {"note": "hello"}}),  # another department's
    ("POST", "/v1/orders/missing/note", DESIGN, {"json": {"note": "hello"}}),  # the rule's 404
    ("POST", "/v1/orders/build-1/note", DESIGN, {"json": {"note": ""}}),  # 403 before 422
    ("POST", "/v1/orders/design-1/note", ADMIN, {"json": {"note": "", "percent": 101, "when": "soon"}}),
    ("POST", "/v1/orders/design-1/note", ADMIN, {"json": {}}),
    ("POST", "/v1/orders/design-1/note", ADMIN, {"json": ["note"]}),
    ("POST", "/v1/orders/design-1/note", ADMIN, {}),  # no body
    (
        "POST",
        "/v1/orders/design-1/note",
        ADMIN,
        {"content": b'{"note": "x",}', "headers": {"Content-Type": "application/json"}},
    ),
    (
        "POST",
        "/v1/orders/design-1/note",
        ADMIN,
        {"content": b'{"note": "x"}', "headers": {"Content-Type": "text/plain"}},
    ),
    (
        "POST",
        "/v1/orders/design-1/note",
        ADMIN,
        {"content": b'{"note": "x"}', "headers": {"Content-Type": "application/vnd.x+json; charset=utf-8"}},
    ),
    ("POST", "/v1/orders/design-1/note", ADMIN, {"content": b'{"note": "x"}'}),  # no content type: JSON
    (
        "POST",
        "/v1/orders/design-1/note",
        ADMIN,
        {"content": b'{"note": "x", "percent": 1e400}', "headers": {"Content-Type": "application/json"}},
    ),
    (
        "POST",
        "/v1/orders/design-1/note",
        ADMIN,
        {"content": b'{"note": "\xff"}', "headers": {"Content-Type": "application/json"}},
    ),
    ("POST", "/v1/orders/design-1/note", ADMIN, {"json": {"note": "conflict"}}),
    ("POST", "/v1/orders/design-1/note", ADMIN, {"json": {"note": "teapot"}}),
    ("POST", "/v1/orders/design-1/close", ADMIN, {}),
    ("POST", "/v1/orders/design-1/close", ADMIN, {"json": {}}),
    ("POST", "/v1/orders/design-1/close", ADMIN, {"json": {"unexpected": 1}}),
    ("GET", "/v1/orders/design-1/summary", DESIGN, {}),
    ("GET", "/v1/orders/design-1/view?min_position=7&kind=b&flag=yes&limit=3", DESIGN, {}),
    ("GET", "/v1/orders/design-1/view", {**DESIGN, "Baton-Min-Position": "9"}, {}),
    ("GET", "/v1/orders/design-1/view?min_position=-1&kind=c&flag=maybe&limit=0", DESIGN, {}),
    ("GET", "/v1/orders/design-1/view?min_position=x", {**DESIGN, "Baton-Min-Position": "y"}, {}),
    ("GET", "/v1/orders/build-1/view?min_position=x", DESIGN, {}),  # 403 before 422
    ("GET", "/v1/orders/design-1/view?min_position=99999999999999999999", ADMIN, {}),
    ("GET", "/v1/orders/build-1/summary", DESIGN, {}),
    ("GET", "/v1/orders/design-1/lines/3?limit=5&tags=a&tags=b&flag=yes", {**DESIGN, "X-Trace": "t1"}, {}),
    ("GET", "/v1/orders/design-1/lines/3", OPS, {}),
    ("GET", "/v1/orders/Design/lines/0?limit=0&flag=maybe", {**DESIGN, "X-Trace": "much-too-long"}, {}),
    ("GET", "/v1/orders/design-1/lines/x", ADMIN, {}),
    ("GET", "/v1/orders/design-1/lines/3", {}, {}),
]


@pytest.mark.parametrize("method,path,headers,kwargs", CASES)
async def test_a_compiled_handler_answers_as_fastapis(method, path, headers, kwargs):
    answers = []
    for compiled in (True, False):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=baton_app(compiled)), base_url="http://t"
        ) as client:
            extra = kwargs.get("headers", {})
            rest = {k: v for k, v in kwargs.items() if k != "headers"}
            r = await client.request(method, path, headers={**headers, **extra}, **rest)
        kept = {k: v for k, v in r.headers.items() if k != "x-correlation-id" or "X-Correlation-Id" in headers}
        answers.append((r.status_code, kept, r.content))
    assert answers[0] == answers[1]


async def test_the_answers_are_the_ones_expected():
    """Parity alone would pass if both were wrong the same way: a few answers spelled out."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=baton_app(True)), base_url="http://t") as client:
        ok = await client.post("/v1/orders/design-1/note", headers=DESIGN, json={"note": "hi", "percent": 3})
        assert ok.status_code == 201
        assert ok.json() == {
            "ids": {"order_id": "design-1", "by": "dora", "app": "the application", "cause": "True"},
            "position": {"stream": "TEST", "seq": 7},
            "appended": 3,
        }
        refused = await client.post("/v1/orders/build-1/note", headers=DESIGN, json={"note": ""})
        assert refused.status_code == 403 and "may not act on order build-1" in refused.json()["detail"]
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:baton:problem:forbidden" and refused.json()["status"] == 403
        invalid = await client.post("/v1/orders/design-1/note", headers=ADMIN, json={"note": "", "percent": 101})
        assert invalid.status_code == 422 and invalid.headers["content-type"] == "application/problem+json"
        problem = invalid.json()
        assert problem["type"] == "urn:baton:problem:invalid-input" and problem["title"] == "Invalid input"
        assert [e["loc"] for e in problem["errors"]] == [["body", "note"], ["body", "percent"]]
        assert all(set(e) == {"loc", "msg", "type"} for e in problem["errors"])
        assert problem["detail"].startswith("invalid input: body.note: String should have at least 1 character")
        unreadable = await client.post(
            "/v1/orders/design-1/note", headers={**ADMIN, "Content-Type": "application/json"}, content=b'{"note": "x",}'
        )
        assert unreadable.status_code == 422 and unreadable.json()["errors"][0]["type"] == "json_invalid"
        untyped = await client.post("/v1/orders/design-1/note", headers=ADMIN, content=b'{"note": "x"}')
        assert untyped.status_code == 201  # no Content-Type: read as JSON (FastAPI's strict_content_type off)
        rule = await client.post("/v1/orders/design-1/note", headers=ADMIN, json={"note": "conflict"})
        assert rule.status_code == 409 and rule.json() == {
            "type": "urn:baton:problem:rule-broken",
            "title": "Refused by a business rule",
            "status": 409,
            "detail": "the order is closed",
        }
        unknown = await client.post("/v1/orders/design-1/note", json={"note": "x"})
        assert unknown.status_code == 401 and unknown.json()["type"] == "urn:baton:problem:unauthenticated"
        lines = await client.get("/v1/orders/design-1/lines/3?tags=a&tags=b", headers=DESIGN)
        assert lines.json() == {
            "order_id": "design-1",
            "line": 3,
            "limit": 50,
            "tags": ["a", "b"],
            "flag": None,
            "trace": None,
        }


async def test_overridden_dependencies_go_through_fastapi():
    app = baton_app(True)
    app.dependency_overrides[application] = lambda: "overridden"  # a sync override: FastAPI's handler only
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        r = await client.post("/v1/orders/design-1/note", headers=ADMIN, json={"note": "x"})
    assert r.status_code == 201 and r.json()["ids"]["app"] == "overridden"


def test_what_is_left_to_fastapi():
    def sync_dependency() -> int:
        return 1

    async def with_yield():
        yield 1

    async def endpoint_sync_dep(x: int = Depends(sync_dependency)) -> dict:
        return {}

    async def endpoint_yield(x: int = Depends(with_yield)) -> dict:
        return {}

    from fastapi import FastAPI

    app = FastAPI()
    app.post("/a")(endpoint_sync_dep)
    app.post("/b")(endpoint_yield)
    for route in app.routes[-2:]:
        with pytest.raises(NotCompiled):
            compile_route(route)


# What keeps FastAPI's handler, and why: a constrained path parameter, a non-scalar query
# parameter (a date), bodies with a default factory.
# Every service's journey read (the console's lanes) has a constrained path parameter.
JOURNEY_READ = {"GET /v1/journeys/{correlation_id}/events"}
LEFT_TO_FASTAPI = {
    "intake": set(),
    "delivery": {"GET /v1/departments/{department}/board"},
    "followup": {
        "GET /v1/agenda",
        "POST /v1/opportunities/{opportunity_id}/offer",
        "POST /v1/opportunities/{opportunity_id}/win",
        "GET /v1/clients/{client_id}/health",  # as_of: a date parameter
        "GET /v1/departments/{department}/complaints",  # a constrained path parameter
        # the head's reports: JSON or CSV by Accept, a date parameter; not hot
        *(f"GET /v1/reports/{name}" for name in ("punctuality", "lead-times", "portfolios", "rotation", "revenue")),
    },
}


@pytest.mark.parametrize("service", ["intake", "delivery", "followup"])
def test_the_services_routes_are_compiled_but_those_left_to_fastapi(service, tmp_path):
    """A route that silently fell back to FastAPI's handler would cost its CPU again."""
    import importlib

    from baton_shared.service.compiled_routes import CompiledRoute

    settings = BatonSettings(database_url=f"sqlite+aiosqlite:///{tmp_path}/x.sqlite3", data_dir=tmp_path)
    create = {"intake": create_intake, "delivery": create_delivery, "followup": create_followup}[service]
    app = create(settings)
    named = lambda route: f"{','.join(sorted(route.methods))} {route.path}"  # noqa: E731
    declared = {named(r) for router in importlib.import_module(f"baton_{service}.api").routers for r in router.routes}
    compiled = {named(r.declared) for r in app.router.routes if isinstance(r, CompiledRoute)}
    assert compiled and declared - compiled == LEFT_TO_FASTAPI[service] | JOURNEY_READ, declared - compiled


def test_the_test_routes_run_compiled():
    """The parity above compares the owned handler with FastAPI's only if the owned one runs."""
    from baton_shared.service.compiled_routes import CompiledRoute

    compiled = {r.declared.path for r in baton_app(True).router.routes if isinstance(r, CompiledRoute)}
    assert compiled == {
        "/v1/orders/{order_id}/note",
        "/v1/orders/{order_id}/close",
        "/v1/orders/{order_id}/summary",
        "/v1/orders/{order_id}/view",
    }
    assert not any(isinstance(r, CompiledRoute) for r in baton_app(False).router.routes)


async def test_head_is_answered_as_fastapi_answers_it():
    answers = []
    for compiled in (True, False):
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=baton_app(compiled)), base_url="http://t"
        ) as client:
            r = await client.head("/v1/orders/design-1/summary", headers=ADMIN)
            answers.append((r.status_code, r.headers.get("allow")))
    assert answers[0] == answers[1] and answers[0][0] == 405
