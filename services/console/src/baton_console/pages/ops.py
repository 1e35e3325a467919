"""Ops: each service's health, projections, lag and parked events; the journey of any id."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from baton_console.gateway import SERVICES, ApiError, Gateway
from baton_console.journeys import read_journey
from baton_console.web import ID, PAGE, SignInNeeded, console

router = APIRouter()


@router.get("/ops", response_class=HTMLResponse)
async def ops(request: Request) -> Response:
    c = console(request)
    session = c.person(request)
    gateway: Gateway = request.app.state.gateway
    api = c.api(request, session)

    async def health(service: str) -> dict:
        try:
            r = await gateway.clients[service].get("/health")
            return {"service": service, **r.json()}
        except Exception as exc:  # noqa: BLE001 - shown as unreachable
            return {"service": service, "status": f"unreachable ({type(exc).__name__})", "projections": []}

    async def parked(service: str) -> dict:
        try:
            return await api.get(service, "/v1/parked", limit=PAGE)
        except ApiError as exc:
            if exc.status == 401:
                raise SignInNeeded() from exc
            return {"items": [], "total": 0, "problem": exc.message}

    found = await asyncio.gather(*(health(s) for s in SERVICES), *(parked(s) for s in SERVICES))
    services = [{**h, "parked": p} for h, p in zip(found[: len(SERVICES)], found[len(SERVICES) :], strict=True)]
    return c.render(request, "ops.html", session, services=services)


@router.get("/journey", response_class=HTMLResponse)
async def journey(request: Request, id: str = "") -> Response:
    """A client's journey (a client id) or one journey (a correlation id, e.g. a request id)."""
    c = console(request)
    session = c.person(request)
    wanted = id.strip()
    svg, total, message = "", 0, None
    if wanted and not ID.match(wanted):
        message = "An id has only letters, digits, '-' and '_' (a client id or a correlation id)."
    elif wanted:
        api = c.api(request, session)
        try:
            found, title = await read_journey(api, client_id=wanted), f"client {wanted}"
        except ApiError as exc:
            if exc.status != 404:
                raise
            found = None
        if not found or not found.total:  # no client's id (admin and ops read an unknown one as empty)
            found, title = await read_journey(api, correlation_id=wanted), f"journey {wanted}"
        total = found.total
        if total:
            svg = found.svg(title)
        else:
            message = f"No client and no journey (correlation id) has the id {wanted}."
            if found.missing:
                message += " " + " ".join(f"{s}: {why}" for s, why in found.missing.items())
    return c.render(request, "journey.html", session, wanted=wanted, svg=svg, total=total, message=message)
