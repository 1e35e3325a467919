"""The daily agenda: what to do, key accounts and overdue first; what the policy holds back only when asked, with why."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query

from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page
from baton_shared.service.inputs import NO_NUL, Date

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import AgendaItem

router = APIRouter(prefix="/v1/agenda", tags=["agenda"])


@router.get(
    "",
    response_model=Page[AgendaItem],
    summary="Follow-ups due that the contact policy allows now (include=held: and those it holds back, with why)",
    dependencies=[read_after_position("agenda", "follow_ups", "relationships", "contact_groups")],
)
async def agenda(
    account_manager: str | None = Query(None, min_length=1, max_length=200, pattern=NO_NUL),
    due_before: Date | None = Query(None, description="include follow-ups due on or before this day (default: today)"),
    include: Literal["held"] | None = Query(
        None, description="held: list the follow-ups the contact policy holds back too, after the others, each with why"
    ),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.views),
    now=Depends(dep.now),
    who=dep.agenda_rule,
) -> Page:
    account_manager = dep.manager_filter(who, account_manager, "read the agenda")
    items, total = await views.agenda(
        account_manager, due_before or now.date(), now, limit, offset, held=include == "held"
    )
    return Page(items=items, limit=limit, offset=offset, total=total)
