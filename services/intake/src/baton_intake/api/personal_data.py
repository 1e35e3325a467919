"""Forgetting a client's personal data (issue 7, erasure by crypto-shredding)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from baton_shared.service.http import WriteOut

from baton_intake.api import dependencies as dep
from baton_intake.application import ForgetClient

router = APIRouter(prefix="/v1/clients", tags=["clients"])


@router.delete(
    "/{client_id}/personal-data",
    response_model=WriteOut,
    summary="Forget the client's personal data: contacts become unreadable everywhere, the rest of the history stays",
)
async def forget_personal_data(
    client_id: str,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.client_rule),
) -> WriteOut:
    """Destroys the client's data key, then records `ClientForgotten`. Asking again is safe
    (`appended` 0 once recorded)."""
    return dep.written(await app.forget_client(ForgetClient(client_id=client_id, **issued)))
