"""Department boards; account managers' and the head's escalations."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query

from baton_shared.service.access import HEAD
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page
from baton_shared.service.inputs import NO_NUL

from baton_delivery.api import dependencies as dep
from baton_delivery.api.schemas import DEPARTMENT_PATTERN, BoardOut, Escalation

router = APIRouter(prefix="/v1", tags=["boards"])


@router.get(
    "/departments/{department}/board",
    response_model=BoardOut,
    summary="Counts by status, overdue items oldest first",
    dependencies=[read_after_position("work_orders")],
)
async def board(
    department: str = Path(pattern=DEPARTMENT_PATTERN, description="department slug; case is ignored"),
    limit: int = Query(50, ge=1, le=200, description="overdue items per page"),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.views),
    today=Depends(dep.today),
    who=Depends(dep.board_rule),
) -> dict:
    return await views.board(department.lower(), today, limit, offset)


@router.get(
    "/escalations",
    response_model=Page[Escalation],
    summary="Overdue and blocked work, for the clients' account manager (the head: overdue past the grace period)",
    dependencies=[read_after_position("work_orders")],
)
async def escalations(
    account_manager: str | None = Query(None, min_length=1, max_length=200, pattern=NO_NUL),
    grace_days: int | None = Query(
        None,
        ge=0,
        le=365,
        description="only work more than this many days past due; the head's default is BATON_HEAD_GRACE_DAYS",
    ),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.views),
    today=Depends(dep.today),
    who=dep.escalations_rule,
    head_grace_days=Depends(dep.head_grace_days),
) -> Page:
    account_manager = dep.manager_filter(who, account_manager)
    if grace_days is None and who.role == HEAD:
        grace_days = head_grace_days
    items, total = await views.escalations(account_manager, today, limit, offset, grace_days)
    return Page(items=items, limit=limit, offset=offset, total=total)
