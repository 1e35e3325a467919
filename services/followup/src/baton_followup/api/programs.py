"""Programs: their commitment dates, the client's notice (refused inside the minimum term), the provider's end, a switch."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from baton_shared.domain import DomainRuleViolation, NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import WriteOut

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import CancelIn, EndIn, ProgramOut, SwitchIn
from baton_followup.application import CancelProgram, EndProgram, SwitchProgram
from baton_followup.domain import ProgramTerms

router = APIRouter(prefix="/v1/programs", tags=["programs"])
AFTER = [read_after_position("programs")]


@router.get("/{program_id}", response_model=ProgramOut, summary="One program with its dates", dependencies=AFTER)
async def get_program(program_id: str, views=Depends(dep.views), who=Depends(dep.program_rule)) -> dict:
    program = await views.program(program_id)
    if program is None:
        raise NotFound(f"program {program_id} not found")
    return program


@router.post(
    "/{program_id}/cancel",
    response_model=WriteOut,
    summary="Give notice; refused (409, with the first possible date) inside the minimum term",
    dependencies=AFTER,
)
async def cancel(
    program_id: str,
    body: CancelIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.program_rule),
) -> WriteOut:
    return dep.written(await app.cancel_program(CancelProgram(program_id=program_id, reason=body.reason, **issued)))


@router.post(
    "/{program_id}/end",
    response_model=WriteOut,
    summary="The provider ends an active program today, with the reason",
    dependencies=AFTER,
)
async def end(
    program_id: str,
    body: EndIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.program_rule),
) -> WriteOut:
    return dep.written(await app.end_program(EndProgram(program_id=program_id, reason=body.reason, **issued)))


@router.post(
    "/{program_id}/switch",
    status_code=201,
    response_model=WriteOut,
    summary="The client moves to another program from today: this one ends, the new one starts (ids.program_id)",
    dependencies=AFTER,
)
async def switch(
    program_id: str,
    body: SwitchIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.program_rule),
) -> WriteOut:
    if body.minimum_term_months > body.total_term_months:  # a rule between two fields: the document cannot state it
        raise DomainRuleViolation(
            f"minimum_term_months ({body.minimum_term_months}) cannot exceed total_term_months ({body.total_term_months})"
        )
    terms = ProgramTerms(body.minimum_term_months, body.total_term_months, body.notice_days)
    cmd = SwitchProgram(
        program_id=program_id,
        name=body.name,
        terms=terms,
        reason=body.reason,
        revenue=body.trailing_12_month_revenue,
        **issued,
    )
    return dep.written(await app.switch_program(cmd))
