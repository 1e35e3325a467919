"""Queries over intake's read models, as plain JSON-ready dicts."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.contracts.intake import CONTACTS_PURPOSE
from baton_shared.privacy import MemoryKeyStore, PersonalDataVault
from baton_shared.projections.own_events import read_events
from baton_shared.projections.sql import json_row

from baton_intake.projections.clients import ClientsProjection
from baton_intake.projections.delivery_progress import DeliveryProgressProjection
from baton_intake.projections.requests import RequestsProjection
from baton_intake.projections.timeline import TimelineProjection


class IntakeViews:
    def __init__(
        self,
        engine: AsyncEngine,
        clients: ClientsProjection,
        requests: RequestsProjection,
        timeline: TimelineProjection,
        delivery: DeliveryProgressProjection,
        vault: PersonalDataVault | None = None,
    ) -> None:
        self.engine = engine
        self.vault = vault or PersonalDataVault(MemoryKeyStore())
        self.clients = clients.clients
        self.requests = requests.requests
        self.timeline_table = timeline.timeline
        self.delivery = delivery.delivery_progress

    async def client(self, client_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(self.clients).where(self.clients.c.client_id == client_id)))
                .mappings()
                .first()
            )
            if row is None:
                return None
            client = json_row(row)
            client["contacts"] = await self._contacts(client.get("personal_data_erased_at"), client["contacts"])
            r = self.requests
            open_requests = await conn.execute(
                select(r.c.request_id, r.c.summary, r.c.status)
                .where(r.c.client_id == client_id, r.c.status != "cancelled")
                .order_by(r.c.captured_at)
            )
            client["open_requests"] = [json_row(x) for x in open_requests.mappings()]
            return client

    async def list_clients(
        self, account_manager: str | None, limit: int, offset: int, name: str | None = None
    ) -> tuple[list[dict], int]:
        c = self.clients
        where = [] if account_manager is None else [c.c.account_manager == account_manager]
        if name and name.strip():  # part of the name, any case; % and _ are plain characters
            escaped = name.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            where.append(func.lower(c.c.name).like(f"%{escaped}%", escape="\\"))
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(c).where(*where))
            rows = await conn.execute(
                select(c.c.client_id, c.c.name, c.c.segment, c.c.account_manager, c.c.annual_revenue, c.c.updated_at)
                .where(*where)
                .order_by(c.c.name, c.c.client_id)
                .limit(limit)
                .offset(offset)
            )
            return [json_row(x) for x in rows.mappings()], int(total or 0)

    async def _contacts(self, erased_at, stored) -> list[dict]:  # noqa: ANN001
        """The contacts in the clear, or [] once erased (forgotten, or its key gone)."""
        if erased_at is not None:
            return []
        if isinstance(stored, dict) and "sealed" in stored:
            opened = await self.vault.open(CONTACTS_PURPOSE, stored["sealed"])
            return [] if opened is None else list(opened)
        return list(stored or [])  # a v1 event's plaintext

    async def request(self, request_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = (
                (await conn.execute(select(self.requests).where(self.requests.c.request_id == request_id)))
                .mappings()
                .first()
            )
            if row is None:
                return None
            request = json_row(row)
            progress = (
                (await conn.execute(select(self.delivery).where(self.delivery.c.request_id == request_id)))
                .mappings()
                .first()
            )
            request["delivery"] = None if progress is None else _delivery_summary(progress)
            return request

    async def timeline(self, client_id: str, limit: int, offset: int) -> tuple[list[dict], int]:
        return await self.own_events(client_id=client_id, limit=limit, offset=offset)

    async def own_events(self, *, limit: int, offset: int, **key: str) -> tuple[list[dict], int]:
        """Intake's events of one client (``client_id=``) or one journey (``correlation_id=``),
        contacts opened while the client's key exists."""
        items, total = await read_events(self.engine, self.timeline_table, limit=limit, offset=offset, **key)
        for item in items:
            payload = item["payload"]
            if (
                item["event_type"] == "ClientRegistered"
                and isinstance(payload, dict)
                and payload.get("sealed_contacts")
            ):
                # Shown in the clear while the client's key exists; erased once it is gone.
                opened = await self.vault.open(CONTACTS_PURPOSE, payload.pop("sealed_contacts"))
                payload["contacts"] = [] if opened is None else list(opened)
                if opened is None:
                    payload["contacts_erased"] = True
            elif (
                item["event_type"] == "ClientRegistered"
                and isinstance(payload, dict)
                and payload.get("contacts_erased")
            ):
                payload["contacts"] = []
        return items, total


def _delivery_summary(row) -> dict:  # noqa: ANN001
    orders = row["work_orders"]
    live = [w for w in orders.values() if w["status"] != "cancelled"]
    return {
        "handover": row["handover"],
        "handover_round": row["handover_round"],
        "work_orders": [
            {"work_order_id": k, **v} for k, v in sorted(orders.items(), key=lambda kv: kv[1]["department"])
        ],
        "completed": sum(1 for w in live if w["status"] == "completed"),
        "live": len(live),
        "overdue": sum(1 for w in live if w.get("overdue")),
        "blocked": sum(1 for w in live if w["status"] == "blocked"),
        "acceptance": row["acceptance"],
        "as_of": json_row({"t": row["updated_at"]})["t"],
    }
