"""What delivery's API handlers need from the running service, and who may call them."""

from __future__ import annotations

from fastapi import Depends, Request

from baton_shared.domain import NotFound
from baton_shared.service.access import (
    ACCOUNT_MANAGER,
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

from baton_delivery.application import DeliveryApplication

__all__ = [
    "actor",
    "application",
    "board_rule",
    "client_rule",
    "causation",
    "department_filter",
    "escalations_rule",
    "head_grace_days",
    "issued",
    "manager_filter",
    "request_rule",
    "today",
    "views",
    "work_order_rule",
    "work_orders_rule",
    "written",
]


async def application(request: Request) -> DeliveryApplication:
    return request.app.state.application


async def views(request: Request):
    return request.app.state.views


async def today(request: Request):
    return request.app.state.application.clock().date()


async def head_grace_days(request: Request) -> int:
    return request.app.state.runtime.settings.head_grace_days


# --- access (baton_shared.service.access) ---------------------------------------------
# admin all; ops reads; department members their department's work orders and board;
# account managers the deliveries and escalations of their clients (read-only on work orders);
# head every read, its escalations past the grace period.

work_orders_rule = roles(DEPARTMENT, what="list work orders")
escalations_rule = roles(ACCOUNT_MANAGER, what="read escalations")


def department_filter(who: Identity, department: str | None) -> str | None:
    """A department member's list is their department's: the filter is forced."""
    if who.role != DEPARTMENT:
        return department
    if department not in (None, who.department):
        raise forbidden(who, f"list the work orders of department {department}")
    return who.department


def manager_filter(who: Identity, account_manager: str | None) -> str | None:
    if who.role != ACCOUNT_MANAGER:
        return account_manager
    if account_manager not in (None, who.name):
        raise forbidden(who, f"read the escalations of another account manager ({account_manager})")
    return who.name


@access_rule
async def board_rule(department: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    if admin_or_ops_read(request, who) or (who.role == DEPARTMENT and department.lower() == who.department):
        return who
    raise forbidden(who, f"read the board of department {department}")


@access_rule
async def work_order_rule(work_order_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    """Department members act on their department's work orders; the client's account manager may read one."""
    if admin_or_ops_read(request, who):
        return who
    what = (
        f"act on work order {work_order_id}"
        if request.method not in ("GET", "HEAD")
        else f"read work order {work_order_id}"
    )
    if who.role not in (DEPARTMENT, ACCOUNT_MANAGER) or (who.role == ACCOUNT_MANAGER and request.method != "GET"):
        raise forbidden(who, what)
    views_ = request.app.state.views
    work_order = await known(request, lambda: views_.work_order(work_order_id), ("work_orders",))
    if work_order is None:
        raise NotFound(f"work order {work_order_id} not found")
    if who.role == DEPARTMENT:
        if work_order["department"] != who.department:
            raise forbidden(who, f"{what}: it is department {work_order['department']}'s")
        return who
    if await views_.current_manager(work_order["client_id"], work_order["account_manager"]) != who.name:
        raise forbidden(who, f"{what}: it belongs to another account manager's client")
    return who


@access_rule
async def client_rule(client_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    """Admin, ops, and the client's current account manager (a client delivery has no work for is unknown here)."""
    views_ = request.app.state.views
    return await require_manager(
        request,
        who,
        lambda: views_.current_manager(client_id),
        ("client_managers",),
        f"read client {client_id}'s delivery events",
        f"client {client_id} not found in delivery",
    )


@access_rule
async def request_rule(request_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    views_ = request.app.state.views

    async def manager() -> str | None:
        delivery = await views_.request_delivery(request_id)
        return (
            None
            if delivery is None
            else await views_.current_manager(delivery["client_id"], delivery["account_manager"])
        )

    return await require_manager(
        request,
        who,
        manager,
        ("request_deliveries", "client_managers"),
        f"act on the delivery of request {request_id}",
        f"no delivery for request {request_id}",
    )
