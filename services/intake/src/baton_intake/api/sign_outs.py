"""A person's sign-outs from the console, so every console replica ends their sessions."""

from __future__ import annotations

from baton_shared.service.access import Identity, access_rule, authenticated
from baton_shared.service.http import Timestamp
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

router = APIRouter(prefix="/v1/me/sign-outs", tags=["access"])


class SignOutsOut(BaseModel):
    sign_outs: int = Field(
        description="how many times this person signed out; a session begun before the last one has ended"
    )
    last_at: Timestamp | None


CALLER = Depends(authenticated)


@access_rule
async def anyone(who: Identity = CALLER) -> Identity:
    """Every role, about themselves only (the token names whose sign-outs)."""
    return who


ANYONE = Depends(anyone)


@router.get("", response_model=SignOutsOut, summary="How many times the caller signed out of the console")
async def sign_outs(request: Request, who: Identity = ANYONE) -> dict:
    return await request.app.state.sign_outs.latest(who.name)


@router.post("", response_model=SignOutsOut, summary="The caller signed out: every console session of theirs ends")
async def sign_out(request: Request, who: Identity = ANYONE) -> dict:
    return await request.app.state.sign_outs.record(who.name)
