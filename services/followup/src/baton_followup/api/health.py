"""Client health: the score and its reasons per client, and the clients at risk (issue 20)."""

from __future__ import annotations

from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Query

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page
from baton_shared.service.inputs import NO_NUL, Date

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import AtRiskClient, HealthOut

router = APIRouter(tags=["health"])


def _score_on(history: list[dict], day: datetime) -> int | None:
    before = [h["score"] for h in history if datetime.fromisoformat(h["at"]) <= day]
    return before[-1] if before else None


@router.get(
    "/v1/clients/{client_id}/health",
    response_model=HealthOut,
    summary="The client's health (0-100) with its reasons, trend and history; as of a past day with `as_of`",
    dependencies=[read_after_position("client_health", "relationships")],
)
async def client_health(
    client_id: str,
    as_of: Date | None = Query(None, description="the score as it was at the end of this day"),
    views=Depends(dep.views),
    now=Depends(dep.now),
    who=Depends(dep.client_rule),
) -> dict:
    row = await views.health(client_id)
    if row is None:
        raise NotFound(f"no health recorded for client {client_id}")
    history = row["history"]
    if as_of is not None:
        end = datetime.combine(as_of + timedelta(days=1), datetime.min.time(), tzinfo=now.tzinfo)
        history = [h for h in history if datetime.fromisoformat(h["at"]) < end]
        if not history:
            raise NotFound(f"no health recorded for client {client_id} on or before {as_of.isoformat()}")
        at = end
    else:
        at = now
    latest = history[-1] if history else {"score": row["score"], "reasons": row["reasons"]}
    month_ago = _score_on(history, at - timedelta(days=30))
    current = as_of is None
    return {
        "client_id": client_id,
        "as_of": as_of and as_of.isoformat(),
        "score": latest["score"],
        "reasons": latest["reasons"],
        "trend_30_days": 0 if month_ago is None else latest["score"] - month_ago,
        "at_risk": current and row["at_risk_since"] is not None,
        "at_risk_reason": row["at_risk_reason"] if current else None,
        "at_risk_since": row["at_risk_since"] if current else None,
        "history": history,
    }


@router.get(
    "/v1/health/at-risk",
    response_model=Page[AtRiskClient],
    summary="Clients at risk now, the longest at risk first (an account manager sees their own)",
    dependencies=[read_after_position("client_health", "relationships")],
)
async def at_risk(
    account_manager: str | None = Query(None, min_length=1, max_length=200, pattern=NO_NUL),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.views),
    who=dep.at_risk_rule,
) -> Page:
    account_manager = dep.manager_filter(who, account_manager, "list clients at risk")
    items, total = await views.at_risk(account_manager, limit, offset)
    return Page(items=items, limit=limit, offset=offset, total=total)


__all__ = ["router"]
