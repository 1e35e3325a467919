"""A client's request: clarifications, handoffs, changes, the client's verdict, cancelling."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from baton_console.gateway import ApiError
from baton_console.session import Session
from baton_console.web import DONE, after, console, number, rows

router = APIRouter()
DONE.update(
    {
        "clarification": "Clarification recorded.",
        "handoff": "Handed off to the departments.",
        "change": "Change relayed to the departments.",
        "verdict": "The client's verdict is recorded.",
        "cancel": "Request cancelled.",
    }
)


async def request_ctx(request: Request, session: Session, request_id: str) -> dict:
    api = console(request).api(request, session)
    at = after(request)
    need = await api.get("intake", f"/v1/requests/{request_id}", min_position=at.get("intake"))
    try:
        delivery = await api.get("delivery", f"/v1/requests/{request_id}/delivery", min_position=at.get("delivery"))
    except ApiError as exc:
        if exc.status != 404:  # 404: no work handed off yet
            raise
        delivery = None
    return {
        "need": need,
        "delivery": delivery,
        "complaints": await complaints_about(api, request_id, at.get("followup")),
        "due_default": (date.today() + timedelta(days=30)).isoformat(),
    }


async def complaints_about(api: Any, request_id: str, position: int | None) -> list[dict] | None:
    """The request's complaints, open and past; None for a person who may not list complaints."""
    try:
        page = await api.get("followup", "/v1/complaints", request_id=request_id, limit=200, min_position=position)
    except ApiError as exc:
        if exc.status in (401, 403):
            return None
        raise
    return page["items"]


@router.get("/requests/{request_id}", response_class=HTMLResponse)
async def request_page(request: Request, request_id: str) -> Response:
    c = console(request)
    session = c.person(request)
    return c.render(request, "request.html", session, **await request_ctx(request, session, request_id))


def handoff(form: FormData, session: Session) -> dict:
    return {"work": rows(form, "department", "scope", "due_by")}


def verdict(form: FormData, session: Session) -> dict:
    accepted = form.get("accepted") == "yes"
    body: dict[str, Any] = {"accepted": accepted, "feedback": form.get("feedback", "")}
    if accepted and form.get("satisfaction"):
        body["satisfaction"] = number(form.get("satisfaction"))
    if not accepted:
        body["rework"] = [
            {"department": r["rework_department"], "description": r["rework_description"]}
            for r in rows(form, "rework_department", "rework_description")
        ]
    return body


def change(form: FormData, session: Session) -> dict:
    return {
        "description": form.get("description", ""),
        **({"department": form["department"]} if form.get("department") else {}),
    }


# the request page's forms: action -> (service, API path under the request, body)
FORMS = {
    "clarifications": (
        "intake",
        "clarifications",
        lambda f, s: {"question": f.get("question", ""), "answer": f.get("answer", "")},
    ),
    "handoffs": ("intake", "handoffs", handoff),
    "changes": ("intake", "changes", change),
    "verdict": ("delivery", "acceptance", verdict),
    "cancel": ("intake", "cancel", lambda f, s: {"reason": f.get("reason", "")}),
}
NAMES = {
    "clarifications": "clarification",
    "handoffs": "handoff",
    "changes": "change",
    "verdict": "verdict",
    "cancel": "cancel",
}


def request_write(action: str):
    service, path, body = FORMS[action]

    async def handler(request: Request, request_id: str) -> Response:
        async def context(request: Request, session: Session) -> dict:
            return await request_ctx(request, session, request_id)

        return await console(request).submit(
            request,
            service=service,
            path=f"/v1/requests/{request_id}/{path}",
            body=body,
            form_name=NAMES[action],
            done=NAMES[action],
            to=f"/requests/{request_id}",
            template="request.html",
            context=context,
        )

    return handler


for _action in FORMS:
    router.post(f"/requests/{{request_id}}/{_action}")(request_write(_action))
