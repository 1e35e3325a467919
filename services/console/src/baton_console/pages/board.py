"""Departments: the board (overdue first), a work order and its actions; escalations."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from baton_console.session import Session
from baton_console.web import DONE, PAGE, Refused, after, console, number

router = APIRouter()
DONE.update(
    {
        "accept": "Work order accepted.",
        "start": "Work started.",
        "progress": "Progress noted.",
        "block": "Work order blocked.",
        "unblock": "Work order unblocked.",
        "complete": "Work order completed.",
    }
)


@router.get("/board", response_class=HTMLResponse)
async def board(request: Request, department: str = "", offset: int = 0) -> Response:
    c = console(request)
    session = c.person(request)
    api = c.api(request, session)
    department = session.department if session.role == "department" else department.strip().lower()
    if not department:
        return c.render(request, "board.html", session, department="", board=None, orders=None)
    at = after(request).get("delivery")
    board_view, orders = await asyncio.gather(
        api.get("delivery", f"/v1/departments/{department}/board", min_position=at),
        api.get(
            "delivery", "/v1/work-orders", department=department, limit=PAGE, offset=max(0, offset), min_position=at
        ),
    )
    return c.render(
        request,
        "board.html",
        session,
        department=department,
        board=board_view,
        orders=orders,
        offset=max(0, offset),
        page_size=PAGE,
    )


async def work_order_ctx(request: Request, session: Session, work_order_id: str) -> dict:
    api = console(request).api(request, session)
    order = await api.get("delivery", f"/v1/work-orders/{work_order_id}", min_position=after(request).get("delivery"))
    return {"order": order}


@router.get("/work-orders/{work_order_id}", response_class=HTMLResponse)
async def work_order(request: Request, work_order_id: str) -> Response:
    c = console(request)
    session = c.person(request)
    return c.render(request, "work_order.html", session, **await work_order_ctx(request, session, work_order_id))


ACTIONS: dict[str, Callable[[FormData, Session], dict]] = {
    "accept": lambda f, s: {"member": f.get("member") or s.name},
    "start": lambda f, s: {},
    "progress": lambda f, s: {
        "note": f.get("note", ""),
        **({"percent": number(f.get("percent"))} if f.get("percent") not in (None, "") else {}),
    },
    "block": lambda f, s: {"reason": f.get("reason", "")},
    "unblock": lambda f, s: {},
    "complete": lambda f, s: {"note": f.get("note", "")},
}


@router.post("/work-orders/{work_order_id}/{action}")
async def work_order_action(request: Request, work_order_id: str, action: str) -> Response:
    console(request).person(request)
    if action not in ACTIONS:
        raise Refused(404, f"There is no action {action!r} on a work order.")

    async def context(request: Request, session: Session) -> dict:
        return await work_order_ctx(request, session, work_order_id)

    return await console(request).submit(
        request,
        service="delivery",
        path=f"/v1/work-orders/{work_order_id}/{action}",
        body=ACTIONS[action],
        form_name=action,
        done=action,
        to=f"/work-orders/{work_order_id}",
        template="work_order.html",
        context=context,
    )


@router.get("/escalations", response_class=HTMLResponse)
async def escalations(request: Request, offset: int = 0) -> Response:
    c = console(request)
    session = c.person(request)
    page = await c.api(request, session).get("delivery", "/v1/escalations", limit=PAGE, offset=max(0, offset))
    return c.render(request, "escalations.html", session, escalations=page, offset=max(0, offset), page_size=PAGE)
