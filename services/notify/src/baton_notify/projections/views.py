"""Queries over notify's read models and delivery state, as JSON-ready dicts."""

from __future__ import annotations

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.projections.sql import json_row

from baton_notify.deliveries import state
from baton_notify.projections.webhooks import WebhooksProjection

HIDDEN = ("wrapped_secret",)


def shown(row) -> dict:
    out = json_row(row)
    for name in HIDDEN:
        out.pop(name, None)
    return out


class NotifyViews:
    def __init__(self, engine: AsyncEngine, webhooks: WebhooksProjection) -> None:
        self.engine = engine
        self.wh = webhooks.webhooks
        # Built once: the deliverer's supervisor asks it five times a second.
        self._active_versions = select(self.wh.c.webhook_id, self.wh.c.version).where(self.wh.c.status == "active")
        self._version_of = select(self.wh.c.version).where(
            self.wh.c.webhook_id == bindparam("webhook_id"), self.wh.c.status == "active"
        )

    async def active_versions(self) -> dict[str, int]:
        """Each active webhook's row version (it changes with every event of the webhook)."""
        async with self.engine.connect() as conn:
            return {r.webhook_id: r.version for r in await conn.execute(self._active_versions)}

    async def active_version(self, webhook_id: str) -> int | None:
        """The webhook's row version if it is active, else None."""
        async with self.engine.connect() as conn:
            return (await conn.execute(self._version_of, {"webhook_id": webhook_id})).scalar()

    async def active_webhooks(self, webhook_ids: list[str]) -> list[dict]:
        """The rows of those of ``webhook_ids`` that are active."""
        async with self.engine.connect() as conn:
            rows = await conn.execute(
                select(self.wh).where(self.wh.c.status == "active", self.wh.c.webhook_id.in_(webhook_ids))
            )
            return [dict(r) for r in rows.mappings()]

    async def webhook(self, webhook_id: str) -> dict | None:
        """One webhook; a deleted one is gone (404), though the list can still show it."""
        async with self.engine.connect() as conn:
            row = (
                (
                    await conn.execute(
                        select(self.wh).where(self.wh.c.webhook_id == webhook_id, self.wh.c.status != "deleted")
                    )
                )
                .mappings()
                .first()
            )
            return None if row is None else shown(row)

    async def list_webhooks(
        self, owner: str | None, status: str | None, limit: int, offset: int
    ) -> tuple[list[dict], int]:
        where = [self.wh.c.status != "deleted"] if status is None else [self.wh.c.status == status]
        if owner is not None:
            where.append(self.wh.c.owner == owner)
        async with self.engine.connect() as conn:
            total = await conn.scalar(select(func.count()).select_from(self.wh).where(*where))
            rows = await conn.execute(
                select(self.wh)
                .where(*where)
                .order_by(self.wh.c.created_at, self.wh.c.webhook_id)
                .limit(limit)
                .offset(offset)
            )
            return [shown(r) for r in rows.mappings()], int(total or 0)

    async def deliveries(self, webhook_id: str, heads: dict[str, int]) -> dict:
        """Per source stream: position, head, lag, delivered, the failure being retried; and parked deliveries."""
        async with self.engine.connect() as conn:
            cursors = (
                await conn.execute(
                    select(state.cursors)
                    .where(state.cursors.c.webhook_id == webhook_id)
                    .order_by(state.cursors.c.stream)
                )
            ).mappings()
            streams = []
            for c in cursors:
                row = json_row(c)
                head = heads.get(c["stream"], c["position"])
                row.update(head=head, lag=max(0, head - c["position"]))
                row.pop("webhook_id", None)
                row.pop("replay_seq", None)
                streams.append(row)
            parked = (
                await conn.execute(
                    select(state.parked)
                    .where(state.parked.c.webhook_id == webhook_id)
                    .order_by(state.parked.c.parked_at)
                )
            ).mappings()
            return {"webhook_id": webhook_id, "streams": streams, "parked": [json_row(p) for p in parked]}
