"""A request's delivery: its work orders, the handover, the client's verdict."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from baton_shared.contracts.delivery import ReworkItem
from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import WriteOut

from baton_delivery.api import dependencies as dep
from baton_delivery.api.schemas import AcceptanceIn, RequestDeliveryOut
from baton_delivery.application import RecordVerdict

router = APIRouter(prefix="/v1/requests", tags=["requests"])


@router.get(
    "/{request_id}/delivery",
    response_model=RequestDeliveryOut,
    summary="All work orders of the request, the handover state, the rework rounds",
    dependencies=[read_after_position("request_deliveries", "work_orders")],
)
async def request_delivery(request_id: str, views=Depends(dep.views), who=Depends(dep.request_rule)) -> dict:
    delivery = await views.request_delivery(request_id)
    if delivery is None:
        raise NotFound(f"no delivery for request {request_id}")
    return delivery


@router.post(
    "/{request_id}/acceptance",
    response_model=WriteOut,
    summary="Record the client's verdict: accepted, or rework per department",
)
async def acceptance(
    request_id: str,
    body: AcceptanceIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.request_rule),
) -> WriteOut:
    return dep.written(
        await app.record_verdict(
            RecordVerdict(
                request_id=request_id,
                accepted=body.accepted,
                satisfaction=body.satisfaction,
                feedback=body.feedback,
                rework=tuple(
                    ReworkItem(
                        department=r.department,
                        description=r.description,
                        paid_by=r.paid_by,
                        amount=r.amount,
                        currency=r.currency,
                    )
                    for r in body.rework
                ),
                **issued,
            )
        )
    )
