"""Complaints: opened -> acknowledged -> in progress -> resolved -> confirmed, or reopened;
deadlines by tier, breaches escalated; a department's board of the cases it works on."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page, WriteOut
from baton_shared.service.inputs import DEPARTMENT_PATTERN

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import (
    UUID_PATTERN,
    AcknowledgeIn,
    AssignIn,
    ComplaintIn,
    ComplaintOut,
    ReopenIn,
    ResolveIn,
)
from baton_followup.application import (
    AcknowledgeComplaint,
    AssignComplaint,
    ConfirmComplaint,
    OpenComplaint,
    ReopenComplaint,
    ResolveComplaint,
)

router = APIRouter(tags=["complaints"])
AFTER = [read_after_position("complaints")]
Status = Literal["open", "opened", "acknowledged", "in_progress", "resolved", "confirmed", "reopened"]


@router.post(
    "/v1/clients/{client_id}/complaints",
    status_code=201,
    response_model=WriteOut,
    summary="Open a complaint case (deadlines by the client's tier)",
)
async def open_complaint(
    client_id: str,
    body: ComplaintIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.complaint_open_rule),
) -> WriteOut:
    cmd = OpenComplaint(
        client_id=client_id,
        category=body.category,
        severity=body.severity,
        description=body.description,
        request_id=body.request_id,
        work_order_id=body.work_order_id,
        program_id=body.program_id,
        **issued,
    )
    return dep.written(await app.open_complaint(cmd))


@router.get(
    "/v1/complaints",
    response_model=Page[ComplaintOut],
    summary="Complaints, most urgent first (an account manager sees their own)",
    dependencies=AFTER,
)
async def list_complaints(
    client_id: str | None = Query(None, pattern=UUID_PATTERN),
    request_id: str | None = Query(None, pattern=UUID_PATTERN, description="only those about this request"),
    status: Status | None = Query(None, description="`open`: any state before resolved"),
    escalated: bool | None = Query(None),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.complaint_views),
    who=dep.complaints_rule,
) -> Page:
    mine = dep.manager_filter(who, None, "list complaints")
    items, total = await views.complaints(
        client_id=client_id,
        request_id=request_id,
        status=status,
        escalated=escalated,
        account_manager=mine,
        limit=limit,
        offset=offset,
    )
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get(
    "/v1/departments/{department}/complaints",
    response_model=Page[ComplaintOut],
    summary="The complaints a department works on (its board)",
    dependencies=AFTER,
)
async def department_complaints(
    department: str = Path(pattern=DEPARTMENT_PATTERN, description="department slug; case is ignored"),
    status: Status | None = Query("open"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.complaint_views),
    who=Depends(dep.department_board_rule),
) -> Page:
    items, total = await views.complaints(department=department.lower(), status=status, limit=limit, offset=offset)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get(
    "/v1/complaints/{complaint_id}",
    response_model=ComplaintOut,
    summary="One complaint, its deadlines and breaches",
    dependencies=AFTER,
)
async def get_complaint(complaint_id: str, views=Depends(dep.complaint_views), who=Depends(dep.complaint_rule)) -> dict:
    complaint = await views.complaint(complaint_id)
    if complaint is None:
        raise NotFound(f"complaint {complaint_id} not found")
    return complaint


@router.post(
    "/v1/complaints/{complaint_id}/acknowledge",
    response_model=WriteOut,
    summary="The first response (opened only)",
    dependencies=AFTER,
)
async def acknowledge(
    complaint_id: str,
    body: AcknowledgeIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.complaint_rule),
) -> WriteOut:
    cmd = AcknowledgeComplaint(complaint_id=complaint_id, response=body.response, **issued)
    return dep.written(await app.acknowledge_complaint(cmd))


@router.post(
    "/v1/complaints/{complaint_id}/assign",
    response_model=WriteOut,
    summary="A department works on it (acknowledged, in progress or reopened)",
    dependencies=AFTER,
)
async def assign(
    complaint_id: str,
    body: AssignIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.complaint_rule),
) -> WriteOut:
    cmd = AssignComplaint(complaint_id=complaint_id, department=body.department, **issued)
    return dep.written(await app.assign_complaint(cmd))


@router.post(
    "/v1/complaints/{complaint_id}/resolve",
    response_model=WriteOut,
    summary="Resolved, with the root cause (the department working on it may)",
    dependencies=AFTER,
)
async def resolve(
    complaint_id: str,
    body: ResolveIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.complaint_work_rule),
) -> WriteOut:
    cmd = ResolveComplaint(complaint_id=complaint_id, resolution=body.resolution, root_cause=body.root_cause, **issued)
    return dep.written(await app.resolve_complaint(cmd))


@router.post(
    "/v1/complaints/{complaint_id}/confirm",
    response_model=WriteOut,
    summary="The client confirms the resolution (resolved only)",
    dependencies=AFTER,
)
async def confirm(
    complaint_id: str,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.complaint_rule),
) -> WriteOut:
    return dep.written(await app.confirm_complaint(ConfirmComplaint(complaint_id=complaint_id, **issued)))


@router.post(
    "/v1/complaints/{complaint_id}/reopen",
    response_model=WriteOut,
    summary="The client does not accept the resolution: a new resolution deadline",
    dependencies=AFTER,
)
async def reopen(
    complaint_id: str,
    body: ReopenIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.complaint_rule),
) -> WriteOut:
    return dep.written(
        await app.reopen_complaint(ReopenComplaint(complaint_id=complaint_id, reason=body.reason, **issued))
    )
