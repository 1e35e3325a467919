"""Opportunities: identified -> offered -> declined or won -> outcome reviewed; valued on the way."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Depends, Query

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page, WriteOut

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import UUID_PATTERN, DeclineIn, EstimateIn, OfferIn, OpportunityOut, OutcomeIn, WinIn
from baton_followup.application import (
    DeclineOpportunity,
    EstimateOpportunity,
    OfferOpportunity,
    ReviewOutcome,
    WinOpportunity,
)
from baton_followup.domain import Money

router = APIRouter(prefix="/v1/opportunities", tags=["opportunities"])
Status = Literal["identified", "offered", "declined", "won", "reviewed"]
AFTER = [read_after_position("opportunities")]


@router.get("", response_model=Page[OpportunityOut], summary="Opportunities, by client and status", dependencies=AFTER)
async def list_opportunities(
    client_id: str | None = Query(None, pattern=UUID_PATTERN),
    status: Status | None = Query(None),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.views),
    who=dep.opportunities_rule,
) -> Page:
    mine = dep.manager_filter(who, None, "list opportunities")
    items, total = await views.opportunities(client_id, status, limit, offset, account_manager=mine)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get("/{opportunity_id}", response_model=OpportunityOut, summary="One opportunity", dependencies=AFTER)
async def get_opportunity(opportunity_id: str, views=Depends(dep.views), who=Depends(dep.opportunity_rule)) -> dict:
    opportunity = await views.opportunity(opportunity_id)
    if opportunity is None:
        raise NotFound(f"opportunity {opportunity_id} not found")
    return opportunity


@router.post(
    "/{opportunity_id}/offer",
    response_model=WriteOut,
    summary="Offer it (a contact: the policy applies)",
    dependencies=AFTER,
)
async def offer(
    opportunity_id: str,
    body: OfferIn = Body(default_factory=OfferIn),
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(
        await app.offer(OfferOpportunity(opportunity_id=opportunity_id, channel=body.channel, note=body.note, **issued))
    )


@router.post(
    "/{opportunity_id}/estimate",
    response_model=WriteOut,
    summary="Estimate what it is worth (identified or offered)",
    dependencies=AFTER,
)
async def estimate(
    opportunity_id: str,
    body: EstimateIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.opportunity_rule),
) -> WriteOut:
    value = Money(body.estimated_value, body.currency)
    return dep.written(await app.estimate(EstimateOpportunity(opportunity_id=opportunity_id, value=value, **issued)))


@router.post(
    "/{opportunity_id}/decline",
    response_model=WriteOut,
    summary="The client said no (starts the cool-down)",
    dependencies=AFTER,
)
async def decline(
    opportunity_id: str,
    body: DeclineIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(
        await app.decline(DeclineOpportunity(opportunity_id=opportunity_id, reason=body.reason, **issued))
    )


@router.post(
    "/{opportunity_id}/win",
    response_model=WriteOut,
    summary="The client said yes (intake opens a request)",
    dependencies=AFTER,
)
async def win(
    opportunity_id: str,
    body: WinIn = Body(default_factory=WinIn),
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(
        await app.win(WinOpportunity(opportunity_id=opportunity_id, note=body.note, agreed=body.agreed, **issued))
    )


@router.post(
    "/{opportunity_id}/outcome",
    response_model=WriteOut,
    summary="Did it deliver what was promised?",
    dependencies=AFTER,
)
async def outcome(
    opportunity_id: str,
    body: OutcomeIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(
        await app.review_outcome(
            ReviewOutcome(
                opportunity_id=opportunity_id,
                delivered_value=body.delivered_value,
                note=body.note,
                realised=body.realised,
                **issued,
            )
        )
    )
