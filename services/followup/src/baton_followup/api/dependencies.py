"""What follow-up's API handlers need from the running service, and who may call them."""

from __future__ import annotations

from fastapi import Depends, Request

from baton_shared.service.access import (
    ACCOUNT_MANAGER,
    Identity,
    access_rule,
    authenticated,
    forbidden,
    require_manager,
    roles,
)
from baton_shared.service.http import actor, causation, issued, written

from baton_followup.application import FollowupApplication

__all__ = [
    "actor", "agenda_rule", "application", "causation", "client_rule", "follow_up_rule", "issued", "manager_filter", "now",
    "opportunities_rule", "opportunity_rule", "program_rule", "views", "written",
]


async def application(request: Request) -> FollowupApplication:
    return request.app.state.application


async def views(request: Request):
    return request.app.state.views


async def now(request: Request):
    return request.app.state.application.clock()


# --- access (baton_shared.service.access): admin all, ops reads, account managers their clients ---

agenda_rule = roles(ACCOUNT_MANAGER, what="read the agenda")
opportunities_rule = roles(ACCOUNT_MANAGER, what="list opportunities")


def manager_filter(who: Identity, account_manager: str | None, what: str) -> str | None:
    if who.role != ACCOUNT_MANAGER:
        return account_manager
    if account_manager not in (None, who.name):
        raise forbidden(who, f"{what} of another account manager ({account_manager})")
    return who.name


async def _manager_of(request: Request, client_id: str | None) -> str | None:
    if client_id is None:
        return None
    relationship = await request.app.state.views.relationship(client_id)
    return None if relationship is None else relationship["account_manager"]


@access_rule
async def client_rule(client_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    return await require_manager(
        request, who, lambda: _manager_of(request, client_id), ("relationships",),
        f"act on client {client_id}", f"client {client_id} not found in follow-up",
    )


def _item_rule(what: str, projection: str):
    async def rule(item_id: str, request: Request, who: Identity) -> Identity:
        async def manager() -> str | None:
            return await _manager_of(request, await request.app.state.views.client_of(what, item_id))

        return await require_manager(
            request, who, manager, (projection, "relationships"), f"act on {what} {item_id}", f"{what} {item_id} not found"
        )

    return rule


_follow_up, _opportunity, _program = _item_rule("follow-up", "follow_ups"), _item_rule("opportunity", "opportunities"), _item_rule(
    "program", "programs"
)


@access_rule
async def follow_up_rule(follow_up_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    return await _follow_up(follow_up_id, request, who)


@access_rule
async def opportunity_rule(opportunity_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    return await _opportunity(opportunity_id, request, who)


@access_rule
async def program_rule(program_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    return await _program(program_id, request, who)
