"""What follow-up's API handlers need from the running service, and who may call them."""

from __future__ import annotations

from fastapi import Depends, Request

from baton_shared.domain import NotFound
from baton_shared.service.access import (
    ACCOUNT_MANAGER,
    HEAD,
    DEPARTMENT,
    Identity,
    access_rule,
    admin_or_ops_read,
    authenticated,
    forbidden,
    known,
    require_manager,
    roles,
)
from baton_shared.service.http import actor, causation, issued, written

from baton_followup.application import FollowupApplication

__all__ = [
    "actor",
    "agenda_rule",
    "application",
    "at_risk_rule",
    "causation",
    "client_rule",
    "complaint_open_rule",
    "complaint_rule",
    "complaint_views",
    "complaint_work_rule",
    "complaints_rule",
    "department_board_rule",
    "follow_up_rule",
    "issued",
    "manager_filter",
    "now",
    "opportunities_rule",
    "opportunity_rule",
    "program_rule",
    "recovery_rule",
    "reports_rule",
    "views",
    "written",
]


async def application(request: Request) -> FollowupApplication:
    return request.app.state.application


async def views(request: Request):
    return request.app.state.views


async def now(request: Request):
    return request.app.state.application.clock()


# --- access (baton_shared.service.access): admin all, ops and head reads, account managers their
# clients; the reports: head, admin, ops ---

agenda_rule = roles(ACCOUNT_MANAGER, what="read the agenda")
opportunities_rule = roles(ACCOUNT_MANAGER, what="list opportunities")
reports_rule = roles(HEAD, what="read the head of account management's reports")
at_risk_rule = roles(ACCOUNT_MANAGER, what="list clients at risk")


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
        request,
        who,
        lambda: _manager_of(request, client_id),
        ("relationships",),
        f"act on client {client_id}",
        f"client {client_id} not found in follow-up",
    )


def _item_rule(what: str, projection: str):
    async def rule(item_id: str, request: Request, who: Identity) -> Identity:
        async def manager() -> str | None:
            return await _manager_of(request, await request.app.state.views.client_of(what, item_id))

        return await require_manager(
            request,
            who,
            manager,
            (projection, "relationships"),
            f"act on {what} {item_id}",
            f"{what} {item_id} not found",
        )

    return rule


_follow_up, _opportunity, _program = (
    _item_rule("follow-up", "follow_ups"),
    _item_rule("opportunity", "opportunities"),
    _item_rule("program", "programs"),
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


_recovery = _item_rule("recovery", "recoveries")


@access_rule
async def recovery_rule(recovery_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    return await _recovery(recovery_id, request, who)


# --- complaints: the client's account manager, and the department working on the case --------

complaints_rule = roles(ACCOUNT_MANAGER, what="list complaints")


async def complaint_views(request: Request):
    return request.app.state.complaint_views


@access_rule
async def complaint_open_rule(client_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    """Who may open a complaint for a client: its account manager, admin, or any department member."""
    if who.role == DEPARTMENT:
        return who
    return await client_rule(client_id, request, who)


async def _department_of(request: Request, complaint_id: str) -> str | None:
    row = await known(request, lambda: request.app.state.complaint_views.complaint(complaint_id), ("complaints",))
    if row is None:
        raise NotFound(f"complaint {complaint_id} not found")
    return row["department"]


_complaint = _item_rule("complaint", "complaints")


def _complaint_rule(department_may: set[str]):
    """The client's account manager and admin (ops on reads); the department working on the case
    for the methods in ``department_may``."""

    @access_rule
    async def rule(complaint_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
        if who.role == DEPARTMENT and request.method in department_may:
            if await _department_of(request, complaint_id) == who.department:
                return who
            raise forbidden(who, f"act on complaint {complaint_id}: it is not assigned to {who.department}")
        return await _complaint(complaint_id, request, who)

    return rule


complaint_rule = _complaint_rule({"GET", "HEAD"})
complaint_work_rule = _complaint_rule({"POST"})


@access_rule
async def department_board_rule(department: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    if admin_or_ops_read(request, who) or (who.role == DEPARTMENT and who.department == department.lower()):
        return who
    raise forbidden(who, f"read the complaints board of {department}")
