"""Opportunities: identified -> offered -> declined or won -> outcome reviewed; valued on the way."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Body, Depends, Query

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page, WriteOut

from baton_followup.api import dependencies as dep
from baton_followup.domain import Money
from baton_followup.api.schemas import UUID_PATTERN, DeclineIn, EstimateIn, OfferIn, OpportunityOut, OutcomeIn, WinIn

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


@router.post("/{opportunity_id}/offer", response_model=WriteOut, summary="Offer it (a contact: the policy applies)", dependencies=AFTER)
async def offer(
    opportunity_id: str, body: OfferIn = Body(default_factory=OfferIn), app=Depends(dep.application),
    actor=Depends(dep.actor), cause=Depends(dep.causation), who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(await app.offer(opportunity_id, body.channel, body.note, actor, cause))


@router.post("/{opportunity_id}/estimate", response_model=WriteOut, summary="Estimate what it is worth (identified or offered)", dependencies=AFTER)
async def estimate(
    opportunity_id: str, body: EstimateIn, app=Depends(dep.application), actor=Depends(dep.actor), cause=Depends(dep.causation),
    who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(await app.estimate(opportunity_id, Money(body.estimated_value, body.currency), actor, cause))


@router.post("/{opportunity_id}/decline", response_model=WriteOut, summary="The client said no (starts the cool-down)", dependencies=AFTER)
async def decline(
    opportunity_id: str, body: DeclineIn, app=Depends(dep.application), actor=Depends(dep.actor), cause=Depends(dep.causation), who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(await app.decline(opportunity_id, body.reason, actor, cause))


@router.post("/{opportunity_id}/win", response_model=WriteOut, summary="The client said yes (intake opens a request)", dependencies=AFTER)
async def win(
    opportunity_id: str, body: WinIn = Body(default_factory=WinIn), app=Depends(dep.application),
    actor=Depends(dep.actor), cause=Depends(dep.causation), who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(await app.win(opportunity_id, body.note, actor, cause, agreed=body.agreed))


@router.post("/{opportunity_id}/outcome", response_model=WriteOut, summary="Did it deliver what was promised?", dependencies=AFTER)
async def outcome(
    opportunity_id: str, body: OutcomeIn, app=Depends(dep.application), actor=Depends(dep.actor), cause=Depends(dep.causation), who=Depends(dep.opportunity_rule),
) -> WriteOut:
    return dep.written(await app.review_outcome(opportunity_id, body.delivered_value, body.note, actor, cause, realised=body.realised))
