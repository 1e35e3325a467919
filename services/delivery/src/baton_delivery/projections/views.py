"""Queries over delivery's read models, as JSON-ready dicts."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.projections.own_events import OwnEventsProjection, read_events
from baton_shared.projections.sql import json_row, row_by

from baton_delivery.domain.rework import rework_totals
from baton_delivery.projections.client_managers import ClientManagersProjection
from baton_delivery.projections.request_deliveries import RequestDeliveriesProjection
from baton_delivery.projections.work_orders import WorkOrdersProjection

LIVE = ("opened", "accepted", "in_progress", "blocked", "reopened")


class DeliveryViews:
    def __init__(
        self,
        engine: AsyncEngine,
        work_orders: WorkOrdersProjection,
        requests: RequestDeliveriesProjection,
        managers: ClientManagersProjection,
        own_events: OwnEventsProjection,
    ) -> None:
        self.engine = engine
        self.wo = work_orders.work_orders
        self.rd = requests.request_deliveries
        self.cm = managers.client_managers
        self.own = own_events.table
        self._request_of: dict[str, str] = {}

    async def request_of(self, work_order_id: str) -> str | None:
        """The request holding a work order (it never changes, so a found one is remembered:
        every department command asks this first)."""
        request_id = self._request_of.get(work_order_id)
        if request_id is not None:
            return request_id
        async with self.engine.connect() as conn:
            request_id = await conn.scalar(select(self.wo.c.request_id).where(self.wo.c.work_order_id == work_order_id))
        if request_id is not None:
            if len(self._request_of) >= 100_000:
                self._request_of.clear()
            self._request_of[work_order_id] = request_id
        return request_id

    async def own_events(self, *, limit: int, offset: int, **key: str) -> tuple[list[dict], int]:
        """Delivery's events of one client (``client_id=``) or one journey (``correlation_id=``)."""
        return await read_events(self.engine, self.own, limit=limit, offset=offset, **key)

    async def current_manager(self, client_id: str, fallback: str | None = None) -> str | None:
        """The client's current account manager (followed from intake's events), else ``fallback``."""
        async with self.engine.connect() as conn:
            manager = await conn.scalar(select(self.cm.c.account_manager).where(self.cm.c.client_id == client_id))
        return manager or fallback

    async def work_order(self, work_order_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = await row_by(conn, self.wo, "work_order_id", work_order_id)
            return None if row is None else json_row(row)

    async def list_work_orders(
        self, department: str | None, status: str | None, overdue: bool | None, limit: int, offset: int
    ) -> tuple[list[dict], int]:
        where = []
        if department is not None:
            where.append(self.wo.c.department == department)
        if status is not None:
            where.append(self.wo.c.status == status)
        if overdue is not None:
            where.append(self.wo.c.overdue == overdue)
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(self.wo).where(*where))
            rows = await conn.execute(
                select(self.wo)
                .where(*where)
                .order_by(self.wo.c.due_by, self.wo.c.work_order_id)
                .limit(limit)
                .offset(offset)
            )
            return [json_row(r) for r in rows.mappings()], int(total or 0)

    async def request_delivery(self, request_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = await row_by(conn, self.rd, "request_id", request_id)
            if row is None:
                return None
            out = json_row(row)
            rows = await conn.execute(
                select(self.wo)
                .where(self.wo.c.request_id == request_id)
                .order_by(self.wo.c.department, self.wo.c.work_order_id)
            )
            out["work_orders"] = [json_row(r) for r in rows.mappings()]
            out["rework_money"] = rework_totals(item for r in out["rounds"] for item in r.get("rework") or ())
            return out

    async def board(self, department: str, today: date, limit: int = 50, offset: int = 0) -> dict:
        """Counts by status, and one page of the overdue items, oldest due first."""
        async with self.engine.connect() as conn:
            counts = await conn.execute(
                select(self.wo.c.status, func.count())
                .where(self.wo.c.department == department)
                .group_by(self.wo.c.status)
            )
            late = or_(self.wo.c.overdue.is_(True), self.wo.c.due_by < today)
            where = (self.wo.c.department == department, self.wo.c.status.in_(LIVE), late)
            overdue_total = await conn.scalar(select(func.count()).select_from(self.wo).where(*where))
            overdue = await conn.execute(
                select(self.wo)
                .where(*where)
                .order_by(self.wo.c.due_by, self.wo.c.opened_at, self.wo.c.work_order_id)
                .limit(limit)
                .offset(offset)
            )
            return {
                "department": department,
                "counts": {status: n for status, n in counts.all()},
                "overdue": [json_row(r) for r in overdue.mappings()],
                "overdue_total": overdue_total,
                "limit": limit,
                "offset": offset,
            }

    async def escalations(
        self, account_manager: str | None, today: date, limit: int, offset: int, grace_days: int | None = None
    ) -> tuple[list[dict], int]:
        """Live work that is overdue or blocked, for the clients' current account manager; with
        ``grace_days``, only work more than that many days past its due date (the head's list)."""
        manager = func.coalesce(self.cm.c.account_manager, self.wo.c.account_manager)
        if grace_days is None:
            late = or_(self.wo.c.overdue.is_(True), self.wo.c.due_by < today, self.wo.c.status == "blocked")
        else:
            late = self.wo.c.due_by < today - timedelta(days=grace_days)
        trouble = and_(self.wo.c.status.in_(LIVE), late)
        where = [trouble] + ([manager == account_manager] if account_manager else [])
        base = self.wo.outerjoin(self.cm, self.cm.c.client_id == self.wo.c.client_id)
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(base).where(*where))
            rows = await conn.execute(
                select(self.wo, manager.label("current_account_manager"), self.cm.c.name.label("client_name"))
                .select_from(base)
                .where(*where)
                .order_by(self.wo.c.due_by, self.wo.c.work_order_id)
                .limit(limit)
                .offset(offset)
            )
            items = []
            for r in rows.mappings():
                item = json_row(r)
                item["reasons"] = [
                    reason
                    for reason, hit in (
                        ("overdue", r["overdue"] or r["due_by"] < today),
                        ("blocked", r["status"] == "blocked"),
                    )
                    if hit
                ]
                items.append(item)
            return items, int(total or 0)

    async def overdue_candidates(self, today: date) -> list[tuple[str, str]]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(self.wo.c.request_id, self.wo.c.work_order_id).where(
                    self.wo.c.status.in_(LIVE), self.wo.c.overdue.is_(False), self.wo.c.due_by < today
                )
            )
            return [(r.request_id, r.work_order_id) for r in rows]
