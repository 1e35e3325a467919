"""A client's relationship: its state under the policy, satisfaction, the handover brief, programs."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from baton_shared.domain import NotFound
from baton_shared.domain.errors import DomainRuleViolation
from baton_shared.service.access import ACCOUNT_MANAGER
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import WriteOut
from baton_shared.observability.logging import get_logger

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import (
    UUID_PATTERN,
    BriefOut,
    ManagedByIn,
    ProgramIn,
    RelationshipOut,
    SatisfactionIn,
    StoredBriefOut,
)
from baton_followup.application import AcknowledgeBrief, DelegateManagement, EnrolInProgram, RecordSatisfaction
from baton_followup.domain import ProgramTerms

router = APIRouter(prefix="/v1/clients", tags=["clients"])
log = get_logger("baton.followup.clients")


@router.get(
    "/{client_id}",
    response_model=RelationshipOut,
    summary="The relationship: tier, cadence, policy, contacts, satisfaction",
    dependencies=[read_after_position("relationships", "contact_groups")],
)
async def relationship(
    client_id: str, views=Depends(dep.views), now=Depends(dep.now), who=Depends(dep.client_rule)
) -> dict:
    row = await views.relationship(client_id)
    if row is None:
        raise NotFound(f"client {client_id} not found in follow-up")
    refused = await views.contact_refusal(row, now)
    row["may_contact_now"] = refused is None
    row["contact_refused_because"] = None if refused is None else {"code": refused.code, "reason": refused.reason}
    return row


@router.put(
    "/{client_id}/managed-by",
    response_model=WriteOut,
    summary="Mark the account as managed by someone else (an agency, another team): outreach is refused",
)
async def delegate_management(
    client_id: str,
    body: ManagedByIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(
        await app.delegate_management(DelegateManagement(client_id=client_id, managed_by=body.managed_by, **issued))
    )


@router.post(
    "/{client_id}/satisfaction",
    status_code=201,
    response_model=WriteOut,
    summary="Record the client's satisfaction (1-5)",
)
async def record_satisfaction(
    client_id: str,
    body: SatisfactionIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(
        await app.record_satisfaction(
            RecordSatisfaction(
                client_id=client_id, score=body.score, comment=body.comment, request_id=body.request_id, **issued
            )
        )
    )


@router.get(
    "/{client_id}/brief",
    response_model=BriefOut | StoredBriefOut,
    summary="The handover brief: profile, nuances, open requests, promises, contacts, declined offers, satisfaction, "
    "recoveries, complaints",
    dependencies=[
        read_after_position(
            "relationships", "briefs", "follow_ups", "programs", "opportunities", "recoveries", "complaints"
        )
    ],
)
async def brief(
    client_id: str,
    brief_id: str | None = Query(
        None, pattern=UUID_PATTERN, description="a brief as prepared at a handover; default: as of now"
    ),
    views=Depends(dep.views),
    app=Depends(dep.application),
    complaints=Depends(dep.complaint_views),
    who=Depends(dep.client_rule),
) -> dict:
    if brief_id is not None:
        stored = await views.stored_brief(brief_id)
        if stored is None or stored["client_id"] != client_id:
            raise NotFound(f"brief {brief_id} of client {client_id} not found")
        found = stored
    else:
        found = await views.brief(client_id)
        if found is None:
            raise NotFound(f"client {client_id} not found in follow-up")
        found["complaints"], _ = await complaints.complaints(client_id=client_id, limit=200)
    if who.role == ACCOUNT_MANAGER:  # the client's manager (client_rule) has opened the brief
        await _acknowledged_by_reading(app, client_id, who.name)
    return found


async def _acknowledged_by_reading(app, client_id: str, manager: str) -> None:  # noqa: ANN001
    """Record that the new manager opened the handover brief; a read answers even if this fails."""
    try:
        await app.acknowledge_brief(AcknowledgeBrief(client_id=client_id, how="read", actor=manager))
    except DomainRuleViolation:
        pass  # no handover yet: nothing to acknowledge
    except Exception as exc:  # noqa: BLE001 - the log is away: the next read records it
        log.warning("brief acknowledgement not recorded", client_id=client_id, error=repr(exc))


@router.post(
    "/{client_id}/brief/acknowledgement",
    response_model=WriteOut,
    summary="The current account manager confirms having read the latest handover brief (once per brief)",
)
async def acknowledge_brief(
    client_id: str,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    return dep.written(await app.acknowledge_brief(AcknowledgeBrief(client_id=client_id, how="confirmed", **issued)))


@router.post(
    "/{client_id}/programs", status_code=201, response_model=WriteOut, summary="Enrol the client in a paid program"
)
async def enrol(
    client_id: str,
    body: ProgramIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    if body.minimum_term_months > body.total_term_months:  # a rule between two fields: the document cannot state it
        raise DomainRuleViolation(
            f"minimum_term_months ({body.minimum_term_months}) cannot exceed total_term_months ({body.total_term_months})"
        )
    terms = ProgramTerms(body.minimum_term_months, body.total_term_months, body.notice_days)
    return dep.written(
        await app.enrol(
            EnrolInProgram(
                client_id=client_id,
                name=body.name,
                starts_on=body.starts_on,
                terms=terms,
                revenue=body.trailing_12_month_revenue,
                **issued,
            )
        )
    )
