"""Requests: capture a need, clarify it, hand work to departments, relay changes, cancel."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from baton_shared.contracts.intake import WorkItem
from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import WriteOut

from baton_intake.api import dependencies as dep
from baton_intake.api.schemas import CancelIn, ChangeIn, ClarificationIn, HandoffIn, RequestIn, RequestOut
from baton_intake.application import CancelRequest, CaptureNeed, RecordClarification, RequestChange, RequestHandoff

router = APIRouter(tags=["requests"])


@router.post(
    "/v1/clients/{client_id}/requests", status_code=201, response_model=WriteOut, summary="Capture a client's need"
)
async def capture_need(
    client_id: str,
    body: RequestIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(
        await app.capture_need(
            CaptureNeed(
                client_id=client_id,
                summary=body.summary,
                requirements=body.requirements,
                budget=body.budget,
                currency=body.currency,
                desired_by=body.desired_by,
                **issued,
            )
        )
    )


@router.get(
    "/v1/requests/{request_id}",
    response_model=RequestOut,
    summary="One request",
    dependencies=[read_after_position("requests")],
)
async def get_request(request_id: str, views=Depends(dep.views), who=Depends(dep.request_rule)) -> dict:
    request = await views.request(request_id)
    if request is None:
        raise NotFound(f"request {request_id} not found")
    return request


@router.post(
    "/v1/requests/{request_id}/clarifications",
    status_code=201,
    response_model=WriteOut,
    summary="Record a question and the client's answer",
)
async def record_clarification(
    request_id: str,
    body: ClarificationIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.request_rule),
) -> WriteOut:
    return dep.written(
        await app.record_clarification(
            RecordClarification(request_id=request_id, question=body.question, answer=body.answer, **issued)
        )
    )


@router.post(
    "/v1/requests/{request_id}/handoffs",
    status_code=201,
    response_model=WriteOut,
    summary="Hand work to departments (one event per department, atomically)",
)
async def request_handoff(
    request_id: str,
    body: HandoffIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.request_rule),
) -> WriteOut:
    work = tuple(WorkItem(department=w.department, scope=w.scope, due_by=w.due_by) for w in body.work)
    return dep.written(await app.request_handoff(RequestHandoff(request_id=request_id, work=work, **issued)))


@router.post(
    "/v1/requests/{request_id}/changes",
    status_code=201,
    response_model=WriteOut,
    summary="Relay a client's change request",
)
async def request_change(
    request_id: str,
    body: ChangeIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.request_rule),
) -> WriteOut:
    return dep.written(
        await app.request_change(
            RequestChange(request_id=request_id, department=body.department, description=body.description, **issued)
        )
    )


@router.post("/v1/requests/{request_id}/cancel", response_model=WriteOut, summary="Cancel the request")
async def cancel_request(
    request_id: str,
    body: CancelIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.request_rule),
) -> WriteOut:
    return dep.written(await app.cancel_request(CancelRequest(request_id=request_id, reason=body.reason, **issued)))
