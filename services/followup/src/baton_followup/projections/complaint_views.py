"""Queries over the complaints read model, as JSON-ready dicts."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.projections.sql import json_row, row_by, stored_utc

from baton_followup.projections.complaints import ComplaintsProjection

OPEN = ("opened", "acknowledged", "in_progress", "reopened")


class ComplaintViews:
    def __init__(self, engine: AsyncEngine, complaints: ComplaintsProjection) -> None:
        self.engine = engine
        self.c = complaints.complaints

    async def complaint(self, complaint_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = await row_by(conn, self.c, "complaint_id", complaint_id)
            return None if row is None else json_row(row)

    async def client_of(self, complaint_id: str) -> str | None:
        async with self.engine.connect() as conn:
            return await conn.scalar(select(self.c.c.client_id).where(self.c.c.complaint_id == complaint_id))

    async def complaints(
        self,
        *,
        client_id: str | None = None,
        request_id: str | None = None,
        status: str | None = None,
        department: str | None = None,
        escalated: bool | None = None,
        account_manager: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict], int]:
        """Most urgent first: the earliest resolution deadline, then the oldest."""
        where = []
        if client_id is not None:
            where.append(self.c.c.client_id == client_id)
        if request_id is not None:
            where.append(self.c.c.request_id == request_id)
        if status == "open":
            where.append(self.c.c.status.in_(OPEN))
        elif status is not None:
            where.append(self.c.c.status == status)
        if department is not None:
            where.append(self.c.c.department == department)
        if escalated is not None:
            where.append(self.c.c.escalated_to_role.is_not(None) if escalated else self.c.c.escalated_to_role.is_(None))
        if account_manager is not None:
            where.append(self.c.c.account_manager == account_manager)
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(self.c).where(*where))
            rows = await conn.execute(
                select(self.c)
                .where(*where)
                .order_by(self.c.c.resolve_by, self.c.c.opened_at, self.c.c.complaint_id)
                .limit(limit)
                .offset(offset)
            )
            return [json_row(r) for r in rows.mappings()], total

    async def breach_candidates(self, now: datetime) -> list[tuple[str, str]]:
        """(client_id, complaint_id) of cases with a deadline passed and not yet recorded breached."""
        late = or_(
            and_(self.c.c.status == "opened", self.c.c.respond_by <= now),
            and_(self.c.c.status.in_(OPEN), self.c.c.resolve_by <= now),
        )
        async with self.engine.connect() as conn:
            rows = (await conn.execute(select(self.c).where(late).order_by(self.c.c.resolve_by))).mappings().all()
        found = []
        for row in rows:
            recorded = {(b["deadline"], b["round"]) for b in row["breaches"]}
            first_due = (
                row["status"] == "opened"
                and stored_utc(row["respond_by"]) <= now
                and ("first_response", 1) not in recorded
            )
            resolution_due = stored_utc(row["resolve_by"]) <= now and ("resolution", row["round"]) not in recorded
            if first_due or resolution_due:
                found.append((row["client_id"], row["complaint_id"]))
        return found
