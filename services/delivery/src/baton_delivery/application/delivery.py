"""Delivery's command methods: find the request's delivery, the domain call, the save.

Departments address work orders by id; the directory (the work-orders read model)
says which request's delivery holds it. Correlation id = the request id (the client
journey); causation id = the HTTP call's correlation id.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from baton_shared.application import Aggregates, Clock, Written, require_uuid, utc_now
from baton_shared.domain import NotFound
from baton_shared.events.envelope import derived_event_id
from baton_shared.eventstore import EventStore

from baton_delivery.application import commands as c
from baton_delivery.domain import RequestDelivery


class WorkOrderDirectory(Protocol):
    async def request_of(self, work_order_id: str) -> str | None: ...


class DeliveryApplication:
    def __init__(self, store: EventStore, directory: WorkOrderDirectory, clock: Clock = utc_now, attempts: int = 5):
        self.store = store
        self.directory = directory
        self.clock = clock
        self.aggregates = Aggregates(store, attempts)

    async def _on_work_order(self, cmd: c.WorkOrderCommand, decide: Callable[[RequestDelivery], Any]) -> Written:
        require_uuid(cmd.work_order_id, "work order")
        request_id = await self.directory.request_of(cmd.work_order_id)
        if request_id is None:
            raise NotFound(f"work order {cmd.work_order_id} not found")
        return await self.aggregates.update(
            RequestDelivery, request_id, cmd, decide, ids={"work_order_id": cmd.work_order_id}
        )

    # --- the department's commands ----------------------------------------------

    async def accept(self, cmd: c.AcceptWorkOrder) -> Written:
        return await self._on_work_order(cmd, lambda d: d.accept(cmd.work_order_id, cmd.member))

    async def start(self, cmd: c.StartWork) -> Written:
        return await self._on_work_order(cmd, lambda d: d.start(cmd.work_order_id))

    async def progress(self, cmd: c.RecordProgress) -> Written:
        return await self._on_work_order(cmd, lambda d: d.progress(cmd.work_order_id, cmd.note, cmd.percent))

    async def block(self, cmd: c.BlockWork) -> Written:
        return await self._on_work_order(cmd, lambda d: d.block(cmd.work_order_id, cmd.reason, self.clock()))

    async def unblock(self, cmd: c.UnblockWork) -> Written:
        return await self._on_work_order(cmd, lambda d: d.unblock(cmd.work_order_id, self.clock()))

    async def complete(self, cmd: c.CompleteWork) -> Written:
        return await self._on_work_order(cmd, lambda d: d.complete(cmd.work_order_id, cmd.note, self.clock()))

    # --- the client's verdict -------------------------------------------------------

    async def record_verdict(self, cmd: c.RecordVerdict) -> Written:
        if cmd.accepted:
            decide = lambda d: d.accept_delivery(cmd.satisfaction, cmd.feedback, self.clock())  # noqa: E731
        else:
            decide = lambda d: d.reject_delivery(cmd.rework, cmd.feedback)  # noqa: E731
        return await self.aggregates.update(RequestDelivery, cmd.request_id, cmd, decide)

    # --- time ---------------------------------------------------------------------

    async def mark_overdue(self, cmd: c.MarkOverdue) -> bool:
        """Record that the work order is overdue, once: the event id is derived from the
        work order, so replicas racing or a restart never record it twice."""
        today = self.clock().date()
        written = await self.aggregates.update(
            RequestDelivery,
            cmd.request_id,
            cmd,
            lambda d: d.mark_overdue(cmd.work_order_id, today),
            event_ids=lambda _d, n: derived_event_id(cmd.work_order_id, f"overdue:{n}"),
        )
        return written.appended > 0
