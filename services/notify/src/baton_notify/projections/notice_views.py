"""Queries over the notices, preferences, accounts and agenda, as JSON-ready dicts."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.projections.sql import json_row, row_by

from baton_notify.projections.accounts import AccountsProjection
from baton_notify.projections.agenda import AgendaProjection
from baton_notify.projections.notices import NoticesProjection
from baton_notify.projections.preferences import PreferencesProjection


class NoticeViews:
    def __init__(
        self,
        engine: AsyncEngine,
        notices: NoticesProjection,
        preferences: PreferencesProjection,
        accounts: AccountsProjection,
        agenda: AgendaProjection,
    ) -> None:
        self.engine = engine
        self.n, self.people = notices.table, notices.people
        self.prefs, self.accounts, self.agenda = preferences.table, accounts.table, agenda.table

    async def waiting(self, now: datetime, limit: int) -> list[str]:
        """Notices someone still waits for, due to be tried, not held by a live claim; oldest first."""
        n = self.n.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(n.notice_id)
                .where(
                    n.waiting > 0,
                    or_(n.retry_at.is_(None), n.retry_at <= now),
                    or_(n.claimed_until.is_(None), n.claimed_until < now),
                )
                .order_by(n.queued_at)
                .limit(limit)
            )
            return [r.notice_id for r in rows]

    async def turned_off(self, person: str) -> set[str]:
        return (await self.turned_off_by([person])).get(person, set())

    async def turned_off_by(self, people: list[str]) -> dict[str, set[str]]:
        if not people:
            return {}
        async with self.engine.connect() as conn:
            rows = await conn.execute(select(self.prefs).where(self.prefs.c.person.in_(people)))
            return {r.person: set(r.turned_off) for r in rows}

    async def account(self, client_id: str) -> dict | None:
        async with self.engine.connect() as conn:
            row = await row_by(conn, self.accounts, "client_id", client_id)
            return None if row is None else dict(row)

    async def agenda_of(self, manager: str, today: date) -> list[dict]:
        """What the manager's clients have due today or before, open, soonest first."""
        a, acc = self.agenda.c, self.accounts.c
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(a.item_id, a.client_id, acc.name.label("client_name"), a.what, a.reason, a.due_on)
                .join(self.accounts, acc.client_id == a.client_id)
                .where(acc.account_manager == manager, a.open.is_(True), a.due_on <= today)
                .order_by(a.due_on, acc.name, a.item_id)
            )
            return [dict(r._mapping) for r in rows]

    async def notices_of(
        self, person: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[dict], int]:
        """Per person and notice: what was sent, given up or still queued; newest first."""
        p, n = self.people.c, self.n.c
        where = []
        if person is not None:
            where.append(p.person == person)
        if status is not None:
            where.append(p.status == status)
        joined = self.people.join(self.n, n.notice_id == p.notice_id)
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(self.people).where(and_(True, *where)))
            rows = await conn.execute(
                select(
                    p.notice_id,
                    p.person,
                    p.status,
                    p.at,
                    p.reason,
                    n.kind,
                    n.subject,
                    n.client_id,
                    n.cause_id,
                    n.cause_at,
                    n.attempts,
                    n.last_error,
                )
                .select_from(joined)
                .where(and_(True, *where))
                .order_by(p.at.desc(), p.notice_id)
                .limit(limit)
                .offset(offset)
            )
            return [json_row(r._mapping) for r in rows], int(total or 0)
