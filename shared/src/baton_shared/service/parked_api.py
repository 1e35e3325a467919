"""``GET /v1/parked``: the events this service's projections and reactions gave up on (ops, admin).

The same rows ``baton parked list`` reads from the service's database, without the
message bytes; retrying or dropping one stays with the ops tool (``baton parked retry``).
"""

from __future__ import annotations

from datetime import UTC

from fastapi import APIRouter, Query, Request
from sqlalchemy import func, select

from baton_shared.projections.checkpoints import parked_events
from baton_shared.service.access import roles
from baton_shared.service.http import Page, Timestamp, View


class ParkedEvent(View):
    ref: str  # <owner>#<seq>, as `baton parked show|retry|drop` names it
    owner: str  # the projection or reaction, e.g. intake.clients, delivery.reaction.intake_requests
    stream: str
    seq: int
    subject: str
    error: str
    tries: int
    parked_at: Timestamp


def parked_router() -> APIRouter:
    router = APIRouter(tags=["ops"])
    ops_only = roles(what="read parked events")

    @router.get("/v1/parked", response_model=Page[ParkedEvent], summary="Events this service gave up on, oldest first")
    async def parked(
        request: Request,
        limit: int = Query(50, ge=1, le=200),
        offset: int = Query(0, ge=0, le=1_000_000),
        who=ops_only,
    ) -> Page:
        p = parked_events
        async with request.app.state.runtime.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(p))
            rows = await conn.execute(
                select(p.c.projection, p.c.stream, p.c.seq, p.c.subject, p.c.error, p.c.tries, p.c.parked_at)
                .order_by(p.c.parked_at, p.c.projection, p.c.seq)
                .limit(limit)
                .offset(offset)
            )
            items = [
                {
                    "ref": f"{r.projection}#{r.seq}",
                    "owner": r.projection,
                    "stream": r.stream,
                    "seq": r.seq,
                    "subject": r.subject,
                    "error": r.error,
                    "tries": r.tries,
                    "parked_at": (r.parked_at if r.parked_at.tzinfo else r.parked_at.replace(tzinfo=UTC)).isoformat(),
                }
                for r in rows
            ]
        return Page(items=items, limit=limit, offset=offset, total=int(total or 0))

    return router
