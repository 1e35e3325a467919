"""What the client page changes beyond needs and notes: opportunities (offer, decline, win,
the outcome review), programs (enrol, give notice), and the client's settings (annual
revenue, contact policy, account manager). Every form comes back to the client page."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from baton_console.pages.clients import client_context
from baton_console.session import Session
from baton_console.web import DONE, ID, Refused, console, number

router = APIRouter()
DONE.update(
    {
        "offer": "Offer recorded.",
        "decline": "The client's no is recorded; no offer of this kind for a while.",
        "win": "Won: intake opens a request for it.",
        "outcome": "Outcome review recorded.",
        "enrol": "Enrolled in the program.",
        "notice": "Notice given on the program.",
        "revenue": "Annual revenue recorded.",
        "policy": "Contact policy changed.",
        "manager": "The client is handed to the new account manager.",
    }
)

OPPORTUNITY: dict[str, object] = {
    "offer": lambda f, s: {"channel": f.get("channel") or "phone", "note": f.get("note", "")},
    "decline": lambda f, s: {"reason": f.get("reason", "")},
    "win": lambda f, s: {"note": f.get("note", "")},
    "outcome": lambda f, s: {"delivered_value": f.get("delivered_value", ""), "note": f.get("note", "")},
}


def write(
    request: Request, client_id: str, *, service: str, path: str, body, form_name: str, done: str, method="POST", to=""
):
    if not ID.match(client_id):
        raise Refused(404, "There is no such client.")
    return console(request).submit(
        request,
        service=service,
        path=path,
        body=body,
        form_name=form_name,
        done=done,
        to=to or f"/clients/{client_id}",
        template="client.html",
        context=client_context(client_id),
        method=method,
    )


@router.post("/clients/{client_id}/opportunities/{opportunity_id}/{action}")
async def opportunity(request: Request, client_id: str, opportunity_id: str, action: str) -> Response:
    console(request).person(request)
    if action not in OPPORTUNITY or not ID.match(opportunity_id):
        raise Refused(404, f"There is no action {action!r} on an opportunity.")
    return await write(
        request,
        client_id,
        service="followup",
        path=f"/v1/opportunities/{opportunity_id}/{action}",
        body=OPPORTUNITY[action],
        form_name=f"{action}-{opportunity_id}",
        done=action,
    )


def enrolment(form: FormData, session: Session) -> dict:
    body = {"name": form.get("name", "")}
    for name in ("minimum_term_months", "total_term_months", "notice_days"):
        if form.get(name):
            body[name] = number(form.get(name))
    for name in ("starts_on", "trailing_12_month_revenue"):
        if form.get(name):
            body[name] = str(form.get(name)).strip()
    return body


@router.post("/clients/{client_id}/programs")
async def enrol(request: Request, client_id: str) -> Response:
    return await write(
        request,
        client_id,
        service="followup",
        path=f"/v1/clients/{client_id}/programs",
        body=enrolment,
        form_name="enrol",
        done="enrol",
    )


@router.post("/clients/{client_id}/programs/{program_id}/notice")
async def give_notice(request: Request, client_id: str, program_id: str) -> Response:
    console(request).person(request)
    if not ID.match(program_id):
        raise Refused(404, "There is no such program.")
    return await write(
        request,
        client_id,
        service="followup",
        path=f"/v1/programs/{program_id}/cancel",
        body=lambda f, s: {"reason": f.get("reason", "")},
        form_name=f"notice-{program_id}",
        done="notice",
    )


def policy(form: FormData, session: Session) -> dict:
    return {
        "do_not_contact": form.get("do_not_contact") == "yes",
        "max_contacts_per_30_days": number(form.get("max_contacts_per_30_days", "")),
        "preferred_channels": [str(c) for c in form.getlist("preferred_channels")],
    }


SETTINGS = {  # form -> (intake's path under the client, body, the ?done= line)
    "revenue": ("revenue", lambda f, s: {"annual_revenue": str(f.get("annual_revenue", "")).strip()}, "revenue"),
    "contact-policy": ("contact-policy", policy, "policy"),
    "account-manager": (
        "account-manager",
        lambda f, s: {"account_manager": f.get("account_manager", ""), "handover_note": f.get("handover_note", "")},
        "manager",
    ),
}


@router.post("/clients/{client_id}/settings/{setting}")
async def change_setting(request: Request, client_id: str, setting: str) -> Response:
    console(request).person(request)
    if setting not in SETTINGS:
        raise Refused(404, f"There is no setting {setting!r} of a client.")
    path, body, done = SETTINGS[setting]
    return await write(
        request,
        client_id,
        service="intake",
        path=f"/v1/clients/{client_id}/{path}",
        body=body,
        form_name=setting,
        done=done,
        method="PUT",
        # once handed over, the client may no longer be the signed-in account manager's to see
        to="/clients" if setting == "account-manager" else "",
    )
