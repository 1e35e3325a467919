"""A client's relationship: its state under the policy, satisfaction, the handover brief, programs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from baton_shared.domain import NotFound
from baton_shared.domain.errors import DomainRuleViolation
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import WriteOut

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import UUID_PATTERN, BriefOut, ProgramIn, RelationshipOut, SatisfactionIn, StoredBriefOut
from baton_followup.application import EnrolInProgram, RecordSatisfaction
from baton_followup.domain import ProgramTerms, refusal
from baton_followup.projections.views import contact_state

router = APIRouter(prefix="/v1/clients", tags=["clients"])


@router.get("/{client_id}", response_model=RelationshipOut, summary="The relationship: tier, cadence, policy, contacts, satisfaction", dependencies=[read_after_position("relationships")])
async def relationship(client_id: str, views=Depends(dep.views), now=Depends(dep.now), who=Depends(dep.client_rule)) -> dict:
    row = await views.relationship(client_id)
    if row is None:
        raise NotFound(f"client {client_id} not found in follow-up")
    refused = refusal(contact_state(row), now)
    row["may_contact_now"] = refused is None
    row["contact_refused_because"] = None if refused is None else {"code": refused.code, "reason": refused.reason}
    return row


@router.post("/{client_id}/satisfaction", status_code=201, response_model=WriteOut, summary="Record the client's satisfaction (1-5)")
async def record_satisfaction(
    client_id: str, body: SatisfactionIn, app=Depends(dep.application), issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(await app.record_satisfaction(
        RecordSatisfaction(client_id=client_id, score=body.score, comment=body.comment, request_id=body.request_id, **issued)
    ))


@router.get(
    "/{client_id}/brief",
    response_model=BriefOut | StoredBriefOut,
    summary="The handover brief: profile, nuances, open requests, promises, contacts, declined offers, satisfaction",
    dependencies=[read_after_position("relationships", "briefs", "follow_ups", "programs", "opportunities")],
)
async def brief(
    client_id: str,
    brief_id: str | None = Query(None, pattern=UUID_PATTERN, description="a brief as prepared at a handover; default: as of now"),
    views=Depends(dep.views),
    who=Depends(dep.client_rule),
) -> dict:
    if brief_id is not None:
        stored = await views.stored_brief(brief_id)
        if stored is None or stored["client_id"] != client_id:
            raise NotFound(f"brief {brief_id} of client {client_id} not found")
        return stored
    live = await views.brief(client_id)
    if live is None:
        raise NotFound(f"client {client_id} not found in follow-up")
    return live


@router.post("/{client_id}/programs", status_code=201, response_model=WriteOut, summary="Enrol the client in a paid program")
async def enrol(
    client_id: str, body: ProgramIn, app=Depends(dep.application), issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    if body.minimum_term_months > body.total_term_months:  # a rule between two fields: the document cannot state it
        raise DomainRuleViolation(
            f"minimum_term_months ({body.minimum_term_months}) cannot exceed total_term_months ({body.total_term_months})"
        )
    terms = ProgramTerms(body.minimum_term_months, body.total_term_months, body.notice_days)
    return dep.written(await app.enrol(
        EnrolInProgram(
            client_id=client_id, name=body.name, starts_on=body.starts_on, terms=terms,
            revenue=body.trailing_12_month_revenue, **issued,
        )
    ))
