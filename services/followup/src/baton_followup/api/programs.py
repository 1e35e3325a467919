"""Programs: their commitment dates, and cancellation (refused inside the minimum term)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import WriteOut

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import CancelIn, ProgramOut
from baton_followup.application import CancelProgram

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
    program_id: str, body: CancelIn, app=Depends(dep.application), issued=Depends(dep.issued),
    who=Depends(dep.program_rule),
) -> WriteOut:
    return dep.written(await app.cancel_program(CancelProgram(program_id=program_id, reason=body.reason, **issued)))
