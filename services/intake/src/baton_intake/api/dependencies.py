"""What intake's API handlers need from the running service, and who may call them."""

from __future__ import annotations

from fastapi import Depends, Request

from baton_shared.domain import NotFound
from baton_shared.service.access import (
    ACCOUNT_MANAGER,
    HEAD,
    Identity,
    access_rule,
    authenticated,
    forbidden,
    known,
    require_manager,
    roles,
)
from baton_shared.service.http import actor, causation, issued, written

from baton_intake.application import IntakeApplication

__all__ = [
    "actor",
    "application",
    "causation",
    "client_rule",
    "clients_rule",
    "issued",
    "only_own",
    "reassign_rule",
    "request_rule",
    "views",
    "written",
]


async def application(request: Request) -> IntakeApplication:
    return request.app.state.application


async def views(request: Request):
    return request.app.state.views


# --- access (baton_shared.service.access): admin all, ops and head reads, account managers their clients;
# the head also reassigns account managers ---

clients_rule = roles(ACCOUNT_MANAGER, what="work with clients")


def only_own(who: Identity, account_manager: str | None, what: str) -> str | None:
    """An account manager's list or new client is theirs: the filter is forced to their name."""
    if who.role != ACCOUNT_MANAGER:
        return account_manager
    if account_manager not in (None, who.name):
        raise forbidden(who, f"{what} of another account manager ({account_manager})")
    return who.name


@access_rule
async def client_rule(client_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    async def manager() -> str | None:
        client = await request.app.state.views.client(client_id)
        return None if client is None else client["account_manager"]

    return await require_manager(
        request, who, manager, ("clients",), f"act on client {client_id}", f"client {client_id} not found"
    )


@access_rule
async def reassign_rule(client_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    """The head of account management hands any known client over; otherwise as ``client_rule``."""
    if who.role != HEAD:
        return await client_rule(client_id, request, who)
    if await known(request, lambda: request.app.state.views.client(client_id), ("clients",)) is None:
        raise NotFound(f"client {client_id} not found")
    return who


@access_rule
async def request_rule(request_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    views_ = request.app.state.views

    async def manager() -> str | None:
        found = await views_.request(request_id)
        client = None if found is None else await views_.client(found["client_id"])
        return None if client is None else client["account_manager"]

    return await require_manager(
        request,
        who,
        manager,
        ("requests", "clients"),
        f"act on request {request_id}",
        f"request {request_id} not found",
    )
