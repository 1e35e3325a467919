"""Work orders: the department's list and its actions on one work order."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page, WriteOut

from baton_delivery.api import dependencies as dep
from baton_delivery.api.schemas import (
    DEPARTMENT_PATTERN,
    AcceptIn,
    BlockIn,
    CompleteIn,
    EmptyIn,
    ProgressIn,
    WorkOrderOut,
    WorkOrderWithHistory,
)
from baton_delivery.application import AcceptWorkOrder, BlockWork, CompleteWork, RecordProgress, StartWork, UnblockWork

router = APIRouter(prefix="/v1/work-orders", tags=["work orders"])
Status = Literal["opened", "accepted", "in_progress", "blocked", "completed", "reopened", "cancelled"]


@router.get(
    "",
    response_model=Page[WorkOrderOut],
    summary="Work orders, by department, status, overdue",
    dependencies=[read_after_position("work_orders")],
)
async def list_work_orders(
    department: str | None = Query(None, pattern=DEPARTMENT_PATTERN, description="department slug; case is ignored"),
    status: Status | None = Query(None),
    overdue: bool | None = Query(None),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.views),
    who=dep.work_orders_rule,
) -> Page:
    department = dep.department_filter(who, department and department.lower())
    items, total = await views.list_work_orders(department, status, overdue, limit, offset)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get(
    "/{work_order_id}",
    response_model=WorkOrderWithHistory,
    summary="One work order with its full history",
    dependencies=[read_after_position("work_orders")],
)
async def get_work_order(
    work_order_id: str, views=Depends(dep.views), app=Depends(dep.application), who=Depends(dep.work_order_rule)
) -> dict:
    work_order = await views.work_order(work_order_id)
    if work_order is None:
        raise NotFound(f"work order {work_order_id} not found")
    # The history as far as the row shows (its version), no further: row and history agree.
    version = work_order["version"]
    history = await app.store.history_through("request", work_order["request_id"], version)
    work_order["history"] = [
        {
            "seq": e.seq,
            "event_type": e.envelope.event_type,
            "occurred_at": e.envelope.occurred_at.isoformat(),
            "actor": e.envelope.actor,
            "causation_id": e.envelope.causation_id,
            "payload": e.envelope.payload,
        }
        for e in history.events
        if e.seq <= version and e.envelope.payload.get("work_order_id") == work_order_id
    ]
    return work_order


@router.post("/{work_order_id}/accept", response_model=WriteOut, summary="A member of the department accepts the work")
async def accept(
    work_order_id: str,
    body: AcceptIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.work_order_rule),
) -> WriteOut:
    return dep.written(await app.accept(AcceptWorkOrder(work_order_id=work_order_id, member=body.member, **issued)))


@router.post("/{work_order_id}/start", response_model=WriteOut, summary="Work begins (again, after rework)")
async def start(
    work_order_id: str,
    body: EmptyIn | None = None,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.work_order_rule),
) -> WriteOut:
    return dep.written(await app.start(StartWork(work_order_id=work_order_id, **issued)))


@router.post(
    "/{work_order_id}/progress", response_model=WriteOut, summary="A progress note, with an optional percentage"
)
async def progress(
    work_order_id: str,
    body: ProgressIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.work_order_rule),
) -> WriteOut:
    return dep.written(
        await app.progress(RecordProgress(work_order_id=work_order_id, note=body.note, percent=body.percent, **issued))
    )


@router.post("/{work_order_id}/block", response_model=WriteOut, summary="The department cannot go on, and says why")
async def block(
    work_order_id: str,
    body: BlockIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.work_order_rule),
) -> WriteOut:
    return dep.written(await app.block(BlockWork(work_order_id=work_order_id, reason=body.reason, **issued)))


@router.post("/{work_order_id}/unblock", response_model=WriteOut, summary="The block is lifted")
async def unblock(
    work_order_id: str,
    body: EmptyIn | None = None,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.work_order_rule),
) -> WriteOut:
    return dep.written(await app.unblock(UnblockWork(work_order_id=work_order_id, **issued)))


@router.post("/{work_order_id}/complete", response_model=WriteOut, summary="The department finished its work")
async def complete(
    work_order_id: str,
    body: CompleteIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.work_order_rule),
) -> WriteOut:
    return dep.written(await app.complete(CompleteWork(work_order_id=work_order_id, note=body.note, **issued)))
