"""Follow-ups: one follow-up, and the contacts made for it (under the contact policy)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import WriteOut

from baton_followup.api import dependencies as dep
from baton_followup.api.schemas import ContactIn, FollowUpOut
from baton_followup.application import RecordContact

router = APIRouter(prefix="/v1/follow-ups", tags=["follow-ups"])


@router.get(
    "/{follow_up_id}",
    response_model=FollowUpOut,
    summary="One follow-up",
    dependencies=[read_after_position("follow_ups")],
)
async def get_follow_up(follow_up_id: str, views=Depends(dep.views), who=Depends(dep.follow_up_rule)) -> dict:
    follow_up = await views.follow_up(follow_up_id)
    if follow_up is None:
        raise NotFound(f"follow-up {follow_up_id} not found")
    return follow_up


@router.post(
    "/{follow_up_id}/contacts",
    status_code=201,
    response_model=WriteOut,
    summary="Record a contact; 409 with the policy's reason (and a recorded suppression) when the policy refuses it",
    dependencies=[read_after_position("follow_ups")],
)
async def record_contact(
    follow_up_id: str,
    body: ContactIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.follow_up_rule),
) -> WriteOut:
    return dep.written(
        await app.record_contact(
            RecordContact(
                follow_up_id=follow_up_id, channel=body.channel, outcome=body.outcome, note=body.note, **issued
            )
        )
    )
