"""The FastAPI app every service is: lifespan, errors, health, metrics, AsyncAPI.

Errors are answered the same way everywhere (``{"detail": ...}``):
422 invalid input (FastAPI names the field and the problem), 404 unknown id,
409 a broken business rule or a concurrent change, 503 the log is unreachable.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable
from contextlib import asynccontextmanager

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from baton_shared.domain.errors import DomainRuleViolation, NotFound
from baton_shared.events.envelope import DomainEvent
from baton_shared.eventstore.port import ConcurrencyConflict, EventStoreUnavailable
from baton_shared.service import metrics
from baton_shared.service.asyncapi import asyncapi_document
from baton_shared.service.logging import get_logger
from baton_shared.service.runtime import ServiceRuntime

log = get_logger("baton.http")
CORRELATION_HEADER = "X-Correlation-Id"
_CORRELATION = re.compile(r"[A-Za-z0-9._:-]{1,64}")


def create_service_app(
    runtime: ServiceRuntime,
    *,
    title: str,
    description: str,
    routers: Iterable[APIRouter],
    published: Iterable[type[DomainEvent]],
    consumed: Iterable[type[DomainEvent]] = (),
) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, version="0.1.0", lifespan=lifespan)
    app.state.runtime = runtime
    service = runtime.service
    asyncapi = asyncapi_document(service, published, consumed, nats_url=runtime.settings.nats_url)

    @app.middleware("http")
    async def correlation_and_metrics(request: Request, call_next):
        correlation_id = request.headers.get(CORRELATION_HEADER, "")
        if not _CORRELATION.fullmatch(correlation_id):
            correlation_id = str(uuid.uuid4())
        request.state.correlation_id = correlation_id
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("correlation_id")
        route = request.scope.get("route")
        path = getattr(route, "path", "unmatched")
        elapsed = time.perf_counter() - started
        metrics.HTTP_REQUESTS.labels(service, request.method, path, response.status_code).inc()
        metrics.HTTP_LATENCY.labels(service, request.method, path).observe(elapsed)
        log.info(
            "http request",
            method=request.method,
            route=path,
            status=response.status_code,
            ms=round(elapsed * 1000, 2),
            correlation_id=correlation_id,
        )
        response.headers[CORRELATION_HEADER] = correlation_id
        return response

    @app.exception_handler(NotFound)
    async def not_found(_request: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(DomainRuleViolation)
    async def rule_broken(_request: Request, exc: DomainRuleViolation) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(ConcurrencyConflict)
    async def conflict(_request: Request, exc: ConcurrencyConflict) -> JSONResponse:
        return JSONResponse(
            {"detail": f"concurrent change, nothing was appended; reload and retry: {exc}"}, status_code=409
        )

    @app.exception_handler(EventStoreUnavailable)
    async def unavailable(_request: Request, exc: EventStoreUnavailable) -> JSONResponse:
        return JSONResponse(
            {"detail": f"the event log is unavailable, retry with the same request: {exc}"},
            status_code=503,
            headers={"Retry-After": "1"},
        )

    ops = APIRouter(tags=["operations"])

    @ops.get("/health", summary="NATS, database and consumer state")
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
            "nats": {"connected": nats_ok, "url": runtime.nc.connected_url.netloc if nats_ok else None},
            "database": {"ok": db_ok, "dialect": runtime.engine.dialect.name},
            "projections": [r.status() for r in runtime.projections.values()],
            "reactions": [r.status() for r in runtime.reactions.values()],
        }
        return JSONResponse(body, status_code=200 if nats_ok and db_ok else 503)

    @ops.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @ops.get("/asyncapi.json", summary="AsyncAPI 3.0 document of the events published and consumed")
    async def asyncapi_json() -> JSONResponse:
        return JSONResponse(asyncapi)

    app.include_router(ops)
    for router in routers:
        app.include_router(router)
    return app
