"""Queries over intake's read models, as plain JSON-ready dicts."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_intake.projections.clients import ClientsProjection
from baton_intake.projections.requests import RequestsProjection
from baton_intake.projections.timeline import TimelineProjection


def _json(row: Any) -> dict[str, Any]:
    out = {}
    for key, value in dict(row).items():
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)  # SQLite keeps no zone; we store UTC
        out[key] = value.isoformat() if isinstance(value, (datetime, date)) else value
    return out


class IntakeViews:
    def __init__(
        self,
        engine: AsyncEngine,
        clients: ClientsProjection,
        requests: RequestsProjection,
        timeline: TimelineProjection,
    ) -> None:
        self.engine = engine
        self.clients = clients.clients
        self.requests = requests.requests
        self.timeline_table = timeline.timeline

    async def client(self, client_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(self.clients).where(self.clients.c.client_id == client_id))).mappings().first()
            if row is None:
                return None
            client = _json(row)
            r = self.requests
            open_requests = await conn.execute(
                select(r.c.request_id, r.c.summary, r.c.status)
                .where(r.c.client_id == client_id, r.c.status != "cancelled")
                .order_by(r.c.captured_at)
            )
            client["open_requests"] = [dict(x) for x in open_requests.mappings()]
            return client

    async def list_clients(self, account_manager: str | None, limit: int, offset: int) -> tuple[list[dict], int]:
        c = self.clients
        where = [] if account_manager is None else [c.c.account_manager == account_manager]
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(c).where(*where))
            rows = await conn.execute(
                select(c.c.client_id, c.c.name, c.c.segment, c.c.account_manager, c.c.annual_revenue, c.c.updated_at)
                .where(*where)
                .order_by(c.c.name, c.c.client_id)
                .limit(limit)
                .offset(offset)
            )
            return [_json(x) for x in rows.mappings()], int(total or 0)

    async def request(self, request_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = (await conn.execute(select(self.requests).where(self.requests.c.request_id == request_id))).mappings().first()
            return None if row is None else _json(row)

    async def timeline(self, client_id: str, limit: int, offset: int) -> tuple[list[dict], int]:
        t = self.timeline_table
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(t).where(t.c.client_id == client_id))
            rows = await conn.execute(
                select(t)
                .where(t.c.client_id == client_id)
                .order_by(t.c.occurred_at, t.c.stream, t.c.seq)
                .limit(limit)
                .offset(offset)
            )
            return [_json(x) for x in rows.mappings()], int(total or 0)
