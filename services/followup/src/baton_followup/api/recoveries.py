"""Recoveries: an unhappy client caught before anything is sold to them (issue 20)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import WriteOut

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import RecoveryCloseIn, RecoveryOut
from baton_followup.application import CloseRecovery

router = APIRouter(prefix="/v1/recoveries", tags=["recoveries"])
AFTER = [read_after_position("recoveries")]


@router.get(
    "/{recovery_id}",
    response_model=RecoveryOut,
    summary="One recovery: why it opened, and how it closed",
    dependencies=AFTER,
)
async def get_recovery(recovery_id: str, views=Depends(dep.views), who=Depends(dep.recovery_rule)) -> dict:
    recovery = await views.recovery(recovery_id)
    if recovery is None:
        raise NotFound(f"recovery {recovery_id} not found")
    return recovery


@router.post(
    "/{recovery_id}/close",
    response_model=WriteOut,
    summary="Close a recovery with what was done and the client's answer; held offers may then go ahead (409 if closed)",
    dependencies=AFTER,
)
async def close(
    recovery_id: str,
    body: RecoveryCloseIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.recovery_rule),
) -> WriteOut:
    return dep.written(
        await app.close_recovery(
            CloseRecovery(
                recovery_id=recovery_id, actions_taken=body.actions_taken, client_answer=body.client_answer, **issued
            )
        )
    )
