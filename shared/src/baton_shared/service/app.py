"""The FastAPI app every service is: lifespan, errors, health, metrics, AsyncAPI.

Errors are answered the same way everywhere, as problem details
(``baton_shared.service.problems``): 422 invalid input (``errors`` names each field),
404 unknown id, 409 a broken business rule or a concurrent change, 503 the log or the
database is unreachable (when a write's append went unconfirmed, the 503 also carries
``ids`` and ``idempotency_key``).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from contextlib import asynccontextmanager
from typing import Any, Literal

import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.routing import APIRoute
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import Field
from pydantic import BaseModel
from sqlalchemy.exc import DBAPIError

from baton_shared.domain.errors import DomainRuleViolation, NotFound
from baton_shared.events.envelope import DomainEvent
from baton_shared import idempotency, uuid_strings
from baton_shared.eventstore.port import AppendUnconfirmed, ConcurrencyConflict, EventStoreUnavailable, LogBehind
from baton_shared.forgotten import ForgettingUnavailable
from baton_shared.retry import is_transient
from baton_shared.observability import metrics
from baton_shared.service.access import (
    ACCOUNT_MANAGER,
    DEPARTMENT,
    OPS,
    Identity,
    TokenBook,
    authenticated,
    has_access_rule,
    roles,
)
from baton_shared.service.api_docs import install_api_docs
from baton_shared.service.asyncapi import asyncapi_document
from baton_shared.service.compiled_routes import compile_routes
from baton_shared.service.http import View
from baton_shared.service import problems, validation, write_guard
from baton_shared.observability.logging import get_logger
from baton_shared.service.runtime import ServiceRuntime
from baton_shared.service.settings import shown_url

log = get_logger("baton.http")


class Me(BaseModel):
    """The caller, as its token names it."""

    name: str
    role: str
    department: str | None = None


def _host_and_port(url) -> str | None:
    """Where the connection goes, without the credentials a URL may carry."""
    return f"{url.hostname}:{url.port}" if url else None


_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class CorrelationAndMetrics:
    """Correlation id, metrics and the request log line, as a pure ASGI middleware.

    Not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs the app in
    a task group with memory streams per request, a large share of a write command's
    CPU (docs/architecture.md, "Performance"); this wraps ``send`` and nothing else."""

    def __init__(self, app, service: str) -> None:  # noqa: ANN001
        self.app = app
        self.service = service
        # Each route's count and latency by (method, route, status), labelled once (a label
        # lookup costs more than the count).
        self._metrics: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = ""
        for name, value in scope["headers"]:
            if name == b"x-correlation-id":
                correlation_id = value.decode("latin-1")
                break
        if not _CORRELATION.fullmatch(correlation_id):
            correlation_id = uuid_strings.random_uuid()
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        status = 500
        echo = (b"x-correlation-id", correlation_id.encode("latin-1"))

        async def send_with_id(message) -> None:  # noqa: ANN001
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), echo]
            await send(message)

        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        path = getattr(scope.get("route"), "path", "unmatched")
        elapsed = time.perf_counter() - started
        method = scope["method"]
        labelled = self._metrics.get((method, path, status))
        if labelled is None:
            labelled = self._metrics[method, path, status] = (
                metrics.HTTP_REQUESTS.labels(self.service, method, path, status),
                metrics.HTTP_LATENCY.labels(self.service, method, path),
            )
        labelled[0].inc()
        labelled[1].observe(elapsed)
        log.info(
            "http request",
            method=method,
            route=path,
            status=status,
            ms=round(elapsed * 1000, 2),
            correlation_id=correlation_id,
        )


class NatsState(View):
    connected: bool
    url: str | None


class DatabaseState(View):
    ok: bool
    dialect: str


class Health(View):
    service: str
    status: Literal["ok", "degraded"]
    nats: NatsState
    database: DatabaseState
    projections: list[dict[str, Any]] = Field(description="each projection: checkpoint, stream head, lag, live")
    reactions: list[dict[str, Any]] = Field(description="each reaction: what it handled, live")
    schedules: list[dict[str, Any]] = Field(
        default_factory=list, description="each scheduled job: running now, passes done, the last pass"
    )


def _methods_of(routes: Iterable[Any], scope) -> list[str]:
    """Every method the routes of this request's path answer."""
    methods: set[str] = set()
    for route in routes:
        if getattr(route, "methods", None) and route.matches(scope)[0] != Match.NONE:
            methods |= route.methods
    return sorted(methods)


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    published: Iterable[type[DomainEvent]],
    consumed: Iterable[type[DomainEvent]] = (),
    compile_handlers: bool = True,
) -> FastAPI:
    declared: list[Any] = []  # every route this app declares, filled below

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if not app.state.tokens.entries:
            log.warning("no API tokens configured (BATON_TOKENS_FILE, BATON_TOKENS): every /v1 call will answer 401")
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    # /docs with Swagger UI served by the service itself (no CDN); ReDoc, which only loads from one, is off.
    # strict_content_type off: a JSON body sent without a Content-Type is read as JSON, as before FastAPI 0.13x.
    app = FastAPI(
        title=title,
        description=description,
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        strict_content_type=False,
    )
    install_api_docs(app)
    app.state.runtime = runtime
    app.state.tokens = TokenBook.from_settings(runtime.settings)  # a bad tokens setting stops the service here
    service = runtime.service
    asyncapi = asyncapi_document(service, published, consumed, nats_url=shown_url(runtime.settings.nats_url))

    write_guard.install(app, runtime.settings.max_body_bytes)  # body limit, Idempotency-Key
    validation.register(app)  # 422s whose detail can always be encoded
    problems.document(app)  # after the write guard's: the answers of every operation, with their schemas
    app.add_middleware(CorrelationAndMetrics, service=service)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if exc.status_code == 405:  # Starlette names the methods of the first route of the path only
            exc.headers = {**(exc.headers or {}), "Allow": ", ".join(_methods_of(declared, request.scope))}
        return problems.from_http_exception(exc)

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> Response:
        return problems.problem(404, str(exc))

    @app.exception_handler(DomainRuleViolation)
    async def rule_broken(_request: Request, exc: DomainRuleViolation) -> Response:
        return problems.problem(409, str(exc), "rule-broken", **exc.details)

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_request: Request, exc: ConcurrencyConflict) -> Response:
        return problems.problem(
            409, f"concurrent change, nothing was appended; reload and retry: {exc}", "concurrent-change"
        )

    async def database_unavailable(request: Request, exc: Exception) -> Response:
        if not is_transient(exc):  # a real fault: the usual 500, logged with its traceback
            log.exception("unhandled error", path=request.url.path, exc_info=exc)
            return problems.problem(500, "internal error", "internal-error")
        return problems.problem(
            503,
            "the service's database is unavailable, retry with the same request "
            f"(nothing was appended): {type(exc).__name__}",
            "database-unavailable",
            headers={"Retry-After": "1"},
        )

    # Reads, and writes that consult a read model (delivery: the request of a work order),
    # meet the database: while it is unreachable they answer 503, like an unreachable log.
    app.add_exception_handler(DBAPIError, database_unavailable)
    app.add_exception_handler(OSError, database_unavailable)

    @app.exception_handler(EventStoreUnavailable)
    async def unavailable(request: Request, exc: EventStoreUnavailable) -> Response:
        if isinstance(exc, AppendUnconfirmed):
            return outcome_unknown(exc, idempotency.request_key(request.scope))
        if isinstance(exc, LogBehind):  # a replica lagging its leader: nothing is decided on its answer
            return problems.problem(
                503,
                f"the event log's replica is behind its leader, nothing was appended; retry the same request: {exc}",
                "log-behind",
                headers={"Retry-After": "1"},
            )
        return problems.problem(
            503,
            f"the event log is unavailable, nothing was appended; retry the same request: {exc}",
            "log-unavailable",
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(ForgettingUnavailable)
    async def forgetting_unavailable(_request: Request, exc: ForgettingUnavailable) -> Response:
        return problems.problem(
            503,
            f"{exc}: nothing was destroyed and nothing was appended; retry the same request",
            "forgetting-unavailable",
            headers={"Retry-After": "1"},
        )

    def outcome_unknown(exc: AppendUnconfirmed, request_key: idempotency.RequestKey | None) -> Response:
        """The append may be stored or not: the answer names what it would have created and
        the key (sent, or made by the server) whose retry stores nothing twice."""
        if request_key is None:  # a DELETE: doing it again does nothing twice
            detail = "the event log did not confirm the write: it may be stored or not; retry the same request"
            return problems.problem(
                503, f"{detail}: {exc}", "outcome-unknown", headers={"Retry-After": "1"}, ids=exc.ids
            )
        detail = (
            "the event log did not confirm the write: it may be stored or not. Retry the same request with "
            f"the header {idempotency.HEADER}: {request_key.key} (it stores nothing twice), or GET the ids "
            "to find out; a retry without that key may store it twice"
        )
        return problems.problem(
            503,
            f"{detail}: {exc}",
            "outcome-unknown",
            headers={"Retry-After": "1", idempotency.HEADER: request_key.key},
            idempotency_key=request_key.key,
            ids=exc.ids,
        )

    ops = APIRouter(tags=["operations"])

    @ops.get(
        "/health",
        summary="NATS, database and consumer state",
        response_model=None,
        responses={
            200: {"model": Health},
            503: {"model": Health, "description": "NATS or the database is unreachable"},
        },
    )
    async def health() -> JSONResponse:
        nats_ok = runtime.started and runtime.nc.is_connected
        db_ok = await runtime.database_ok()
        if nats_ok:
            try:
                await runtime.refresh_heads()
            except Exception:  # noqa: BLE001 - reported below
                nats_ok = False
        body = {
            "service": service,
            "status": "ok" if nats_ok and db_ok else "degraded",
            "nats": {"connected": nats_ok, "url": _host_and_port(runtime.nc.connected_url) if nats_ok else None},
            "database": {"ok": db_ok, "dialect": runtime.engine.dialect.name},
            "projections": [r.status() for r in runtime.projections.values()],
            "reactions": [r.status() for r in runtime.reactions.values()],
            "schedules": [status() for status in runtime.schedules],
        }
        return JSONResponse(body, status_code=200 if nats_ok and db_ok else 503)

    @ops.get(
        "/metrics",
        summary="Prometheus metrics (ops or admin token)",
        response_class=Response,
        dependencies=[roles(OPS, what="read metrics")],
    )
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @ops.get("/asyncapi.json", summary="AsyncAPI 3.0 document of the events published and consumed")
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(asyncapi)

    me = APIRouter(tags=["access"])

    @me.get("/v1/me", summary="Who the token belongs to: name, role, department", response_model=Me)
    async def whoami(who: Identity = roles(OPS, ACCOUNT_MANAGER, DEPARTMENT, what="ask who they are")) -> Me:
        # Every role may ask; a console learns whom it signed in from this.
        return Me(name=who.name, role=who.role, department=who.department)

    routers = list(routers)
    app.include_router(ops)
    app.include_router(me)
    for router in routers:
        app.include_router(router, dependencies=[Depends(authenticated)])
    # The routes as declared (FastAPI keeps included routers whole, not as a flat list).
    declared.extend(route for router in (ops, me, *routers) for route in router.routes)
    for route in declared:
        if isinstance(route, APIRoute) and route.path.startswith("/v1") and not has_access_rule(route.dependant):
            raise RuntimeError(f"{sorted(route.methods)} {route.path} has no access rule (baton_shared.service.access)")
    if compile_handlers:  # the same answers as FastAPI's handlers, for a fraction of the CPU
        for route, reason in compile_routes(app, routers, [Depends(authenticated)]).items():
            log.debug("route keeps FastAPI's handler", route=route, reason=reason)
    return app
