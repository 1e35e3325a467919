"""Notices for people: which kinds each person receives, and what was sent to whom.

Everyone reads and sets their own; admin anyone's (``person``); ops and the head of account
management read anyone's notices."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from baton_shared.service.access import ADMIN, EVERY_READ, Identity, access_rule, authenticated, forbidden
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page, WriteOut
from baton_shared.service.inputs import STRICT

from baton_notify.api import dependencies as dep
from baton_notify.application.notices import TurnNoticeKind
from baton_notify.domain.notice_kinds import KINDS

router = APIRouter(prefix="/v1/notices", tags=["notices"])
Kind = Literal[tuple(KINDS)]
PersonName = Query(None, min_length=1, max_length=200, description="another person (admin); default: you")


class KindOut(BaseModel):
    kind: Kind
    description: str
    on: bool


class PreferencesOut(BaseModel):
    person: str
    email_known: bool = Field(description="whether the token directory gives this person an e-mail address")
    kinds: list[KindOut]


class TurnIn(BaseModel):
    model_config = STRICT

    on: bool = Field(description="true: send this kind; false: do not")


class NoticeOut(BaseModel):
    notice_id: str
    person: str
    status: Literal["queued", "sent", "given up"]
    at: str
    reason: str | None
    kind: str
    subject: str
    client_id: str | None
    cause_id: str
    cause_at: str
    attempts: int
    last_error: str | None


def whose(who: Identity, person: str | None, reads_all: bool) -> str | None:
    """The person asked about: the caller unless they name another, which admin (and, to read
    notices, ops and the head) may. None: everyone."""
    if person is None and reads_all and who.role in (ADMIN, *EVERY_READ):
        return None
    if person is None or person == who.name:
        return who.name
    if who.role == ADMIN or (reads_all and who.role in EVERY_READ):
        return person
    raise forbidden(who, f"act on {person}'s notices")


@access_rule
async def anyone(who: Identity = Depends(authenticated)) -> Identity:
    """Any known token: each person manages their own notices (the handlers check ``person``)."""
    return who


@router.get(
    "/preferences",
    response_model=PreferencesOut,
    summary="Which kinds of notice a person receives",
    dependencies=[read_after_position("notice_preferences")],
)
async def preferences(request: Request, person: str | None = PersonName, who: Identity = Depends(anyone)) -> dict:
    name = whose(who, person, reads_all=False)
    off = await request.app.state.notice_views.turned_off(name)
    return {
        "person": name,
        "email_known": request.app.state.directory.address_of(name) is not None,
        "kinds": [{"kind": k, "description": d, "on": k not in off} for k, d in KINDS.items()],
    }


@router.put("/preferences/{kind}", response_model=WriteOut, summary="Turn one kind of notice on or off")
async def turn(
    body: TurnIn,
    request: Request,
    kind: Kind = Path(description="the kind of notice"),
    person: str | None = PersonName,
    issued=Depends(dep.issued),
    who: Identity = Depends(anyone),
) -> WriteOut:
    name = whose(who, person, reads_all=False)
    return dep.written(
        await request.app.state.notices.turn(TurnNoticeKind(person=name, kind=kind, on=body.on, **issued))
    )


@router.get(
    "",
    response_model=Page[NoticeOut],
    summary="Notices sent, queued or given up, newest first",
    dependencies=[read_after_position("notices")],
)
async def notices(
    request: Request,
    person: str | None = Query(
        None, min_length=1, max_length=200, description="whose (default: yours; ops, head and admin: everyone's)"
    ),
    status: Literal["queued", "sent", "given up"] | None = Query(None),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    who: Identity = Depends(anyone),
) -> Page:
    name = whose(who, person, reads_all=True)
    items, total = await request.app.state.notice_views.notices_of(name, status, limit, offset)
    return Page(items=items, limit=limit, offset=offset, total=total)
