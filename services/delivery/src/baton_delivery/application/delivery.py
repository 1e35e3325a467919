"""Command handling for delivery: load the request's delivery, decide, append, retry on conflict.

Departments address work orders by id; the directory (the work-orders read
model) says which request's delivery holds it. Correlation id = the request id
(the client journey); causation id = the HTTP call's correlation id.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from baton_shared import idempotency
from baton_shared.application import (
    REFUSALS,
    Clock,
    Written,
    answering,
    history_to_decide_on,
    require_uuid,
    utc_now,
)
from baton_shared.contracts.delivery import ReworkItem
from baton_shared.domain import NotFound
from baton_shared.events.envelope import derived_event_id
from baton_shared.eventstore import ConcurrencyConflict, EventStore, NewEvent
from baton_shared.folded import FoldedAggregates

from baton_delivery.domain import RequestDelivery



class WorkOrderDirectory(Protocol):
    async def request_of(self, work_order_id: str) -> str | None: ...


class DeliveryApplication:
    def __init__(self, store: EventStore, directory: WorkOrderDirectory, clock: Clock = utc_now, attempts: int = 5):
        self.store = store
        self.directory = directory
        self.clock = clock
        self.attempts = attempts
        self.folded = FoldedAggregates()  # a command folds only what was appended since the last one

    async def load(self, request_id: str) -> RequestDelivery:
        return RequestDelivery.from_history(request_id, await self.store.load("request", request_id))

    async def _update(
        self,
        request_id: str,
        decide: Callable[[RequestDelivery], object],
        *,
        actor: str,
        causation_id: str | None,
        event_ids: Callable[[int], str] | None = None,
    ) -> Written:
        keyed = idempotency.keyed(self.store.stream_name, actor) if event_ids is None else None
        if keyed is not None:
            event_ids = keyed.event_id  # a retried keyed write re-derives the same ids
        maybe_a_retry = keyed is not None and keyed.sent_by_caller  # a caller's key: look for it
        for attempt in range(self.attempts):
            # First on the remembered history, unless a keyed write must look for itself in it.
            first = attempt == 0 and not maybe_a_retry and self.attempts > 1
            history = await history_to_decide_on(self.store, "request", request_id, recall=first)
            delivery = self.folded.fold(RequestDelivery, request_id, history)
            try:
                if not delivery.work_orders:
                    raise NotFound(f"no delivery for request {request_id}")
                if maybe_a_retry and (replay := keyed.replay(history.events)) is not None:
                    return Written({"request_id": request_id}, self.store.stream_name, replay.last_seq, replay.count)
                decide(delivery)
            except REFUSALS:
                if history.recalled:
                    continue
                raise
            if not delivery.pending:
                self.folded.keep_unchanged(delivery)
                if history.recalled:
                    continue
                return Written({"request_id": request_id}, self.store.stream_name, delivery.version, 0)
            new = [
                NewEvent(
                    event,
                    correlation_id=request_id,
                    actor=actor,
                    causation_id=causation_id,
                    occurred_at=self.clock(),
                    **({"event_id": event_ids(n)} if event_ids else {}),
                )
                for n, event in enumerate(delivery.pending)
            ]
            try:
                with answering({"request_id": request_id}):
                    result = await self.store.append("request", request_id, delivery.version, new)
            except ConcurrencyConflict:
                if attempt == self.attempts - 1:
                    raise
                continue
            self.folded.kept_after(delivery, result)
            return Written({"request_id": request_id}, self.store.stream_name, result.last_seq, len(new))
        raise AssertionError("unreachable")

    async def _work_order(self, work_order_id: str) -> str:
        require_uuid(work_order_id, "work order")
        request_id = await self.directory.request_of(work_order_id)
        if request_id is None:
            raise NotFound(f"work order {work_order_id} not found")
        return request_id

    async def _on_work_order(self, work_order_id: str, decide, actor: str, cause: str | None) -> Written:
        request_id = await self._work_order(work_order_id)
        ids = {"work_order_id": work_order_id, "request_id": request_id}
        with answering(ids):
            written = await self._update(request_id, decide, actor=actor, causation_id=cause)
        return Written(ids, written.stream, written.position, written.appended)

    # --- the department's commands ----------------------------------------------

    async def accept(self, work_order_id: str, member: str, actor: str, cause: str | None = None) -> Written:
        return await self._on_work_order(work_order_id, lambda d: d.accept(work_order_id, member), actor, cause)

    async def start(self, work_order_id: str, actor: str, cause: str | None = None) -> Written:
        return await self._on_work_order(work_order_id, lambda d: d.start(work_order_id), actor, cause)

    async def progress(self, work_order_id: str, note: str, percent: int | None, actor: str, cause: str | None = None) -> Written:
        return await self._on_work_order(work_order_id, lambda d: d.progress(work_order_id, note, percent), actor, cause)

    async def block(self, work_order_id: str, reason: str, actor: str, cause: str | None = None) -> Written:
        return await self._on_work_order(work_order_id, lambda d: d.block(work_order_id, reason, self.clock()), actor, cause)

    async def unblock(self, work_order_id: str, actor: str, cause: str | None = None) -> Written:
        return await self._on_work_order(work_order_id, lambda d: d.unblock(work_order_id, self.clock()), actor, cause)

    async def complete(self, work_order_id: str, note: str, actor: str, cause: str | None = None) -> Written:
        return await self._on_work_order(work_order_id, lambda d: d.complete(work_order_id, note, self.clock()), actor, cause)

    # --- the client's verdict -------------------------------------------------------

    async def record_verdict(
        self,
        request_id: str,
        *,
        accepted: bool,
        satisfaction: int | None,
        feedback: str,
        rework: Sequence[ReworkItem],
        actor: str,
        cause: str | None = None,
    ) -> Written:
        require_uuid(request_id, "request")
        if accepted:
            decide = lambda d: d.accept_delivery(satisfaction, feedback, self.clock())  # noqa: E731
        else:
            decide = lambda d: d.reject_delivery(rework, feedback)  # noqa: E731
        return await self._update(request_id, decide, actor=actor, causation_id=cause)

    # --- time ---------------------------------------------------------------------

    async def mark_overdue(self, request_id: str, work_order_id: str) -> bool:
        """Record that the work order is overdue, once: the event id is derived from the
        work order, so replicas racing or a restart never record it twice."""
        today = self.clock().date()
        written = await self._update(
            request_id,
            lambda d: d.mark_overdue(work_order_id, today),
            actor="scheduler:overdue",
            causation_id=None,
            event_ids=lambda n: derived_event_id(work_order_id, f"overdue:{n}"),
        )
        return written.appended > 0
