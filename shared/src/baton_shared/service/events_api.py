"""Each service's read of its own events by client or by correlation id: its lane of a journey.

The console draws a client's journey (and ops one journey by correlation id) from the
three services' answers, merged (``baton_shared.journey_picture``), as ``baton trace``
does from the log. A client's events are read under the service's own client rule (the
client's account manager, admin, ops); a correlation id's only by admin and ops, since
it may span clients.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import APIRouter, Depends, Path, Query, Request

from baton_shared.service.access import roles
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page, Payload, Timestamp, View
from baton_shared.service.inputs import NO_NUL

# views.own_events(client_id=..., correlation_id=..., limit=, offset=) -> (items, total)
OwnEvents = Callable[..., Awaitable[tuple[list[dict], int]]]


class EventEntry(View):
    client_id: str
    stream: str
    seq: int
    event_id: str
    event_type: str
    aggregate_type: str
    aggregate_id: str
    occurred_at: Timestamp
    actor: str
    correlation_id: str
    causation_id: str | None
    payload: Payload


def events_router(client_rule: Callable, projection: str) -> APIRouter:
    """``GET /v1/clients/{client_id}/events`` and ``GET /v1/journeys/{correlation_id}/events``,
    read from ``request.app.state.views.own_events``; ``projection`` is the read model's name."""
    router = APIRouter(tags=["journeys"])
    journey_rule = roles(what="read a journey by correlation id")
    client_access = Depends(client_rule)

    @router.get(
        "/v1/clients/{client_id}/events",
        response_model=Page[EventEntry],
        summary="This service's events about the client, in time order (its lane of the journey)",
        dependencies=[read_after_position(projection)],
    )
    async def client_events(
        request: Request,
        client_id: str,
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10_000_000),
        who=client_access,
    ) -> Page:
        items, total = await request.app.state.views.own_events(client_id=client_id, limit=limit, offset=offset)
        return Page(items=items, limit=limit, offset=offset, total=total)

    @router.get(
        "/v1/journeys/{correlation_id}/events",
        response_model=Page[EventEntry],
        summary="This service's events of one journey (a correlation id: a request id, a client id), in time order",
        dependencies=[read_after_position(projection)],
    )
    async def journey_events(
        request: Request,
        correlation_id: str = Path(max_length=64, pattern=NO_NUL),
        limit: int = Query(100, ge=1, le=1000),
        offset: int = Query(0, ge=0, le=10_000_000),
        who=journey_rule,
    ) -> Page:
        items, total = await request.app.state.views.own_events(
            correlation_id=correlation_id, limit=limit, offset=offset
        )
        return Page(items=items, limit=limit, offset=offset, total=total)

    return router
