"""Clients: the list and search, registration, the client page and what is recorded on it."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import FormData

from baton_console.gateway import ApiError
from baton_console.journeys import read_journey
from baton_console.session import Session
from baton_console.web import DONE, ID, PAGE, Refused, after, console, number

router = APIRouter()
DONE.update({"client": "Client registered.", "note": "Nuance recorded.", "need": "Need captured."})


@router.get("/clients", response_class=HTMLResponse)
async def clients(request: Request, q: str = "", offset: int = 0) -> Response:
    c = console(request)
    session = c.person(request)
    api = c.api(request, session)
    q = q.strip()[:200]
    page = await api.get(
        "intake",
        "/v1/clients",
        name=q or None,
        limit=PAGE,
        offset=max(0, offset),
        min_position=after(request).get("intake"),
    )
    escalations = None
    if session.role in ("admin", "head"):  # the head of account management's view
        escalations = await api.get("delivery", "/v1/escalations", limit=PAGE)
    return c.render(
        request,
        "clients.html",
        session,
        clients=page,
        q=q,
        offset=max(0, offset),
        page_size=PAGE,
        escalations=escalations,
    )


async def no_context(request: Request, session: Session) -> dict:
    return {}


@router.get("/clients/new", response_class=HTMLResponse)
async def new_client(request: Request) -> Response:
    c = console(request)
    return c.render(request, "client_new.html", c.person(request))


def registration(form: FormData, session: Session) -> dict:
    body: dict[str, Any] = {
        "name": form.get("name", ""),
        "segment": form.get("segment", ""),
        "account_manager": session.name if session.role == "account_manager" else form.get("account_manager", ""),
        "business_description": form.get("business_description", ""),
    }
    if form.get("annual_revenue"):
        body["annual_revenue"] = form.get("annual_revenue")
    if form.get("contact_name"):
        contact = {
            "name": form.get("contact_name"),
            "email": form.get("contact_email") or None,
            "phone": form.get("contact_phone") or None,
        }
        body["contacts"] = [{k: v for k, v in contact.items() if v}]
    if form.get("max_contacts_per_30_days"):
        body["contact_policy"] = {"max_contacts_per_30_days": number(form.get("max_contacts_per_30_days"))}
    return body


def client_field(field: str) -> str:
    """An API field of the client registration, as the console form names it."""
    return {
        "contacts.name": "contact_name",
        "contacts.email": "contact_email",
        "contacts.phone": "contact_phone",
        "contact_policy.max_contacts_per_30_days": "max_contacts_per_30_days",
    }.get(field, field)


@router.post("/clients")
async def register_client(request: Request) -> Response:
    return await console(request).submit(
        request,
        service="intake",
        path="/v1/clients",
        body=registration,
        form_name="client",
        done="client",
        to=lambda answer: f"/clients/{answer['ids']['client_id']}",
        template="client_new.html",
        context=no_context,
        fields=client_field,
    )


async def client_ctx(request: Request, session: Session, client_id: str) -> dict:
    """Four calls in parallel. Each request's departments come from the brief (one call, not
    one per request); the journey picture is its own image (/clients/{id}/journey.svg), so
    the page does not wait for every service's events."""
    api = console(request).api(request, session)
    at = after(request)
    results = await asyncio.gather(
        api.get("intake", f"/v1/clients/{client_id}", min_position=at.get("intake")),
        api.get("followup", f"/v1/clients/{client_id}", min_position=at.get("followup")),
        api.get("followup", f"/v1/clients/{client_id}/brief"),
        api.get("followup", "/v1/opportunities", client_id=client_id, limit=50),
        return_exceptions=True,
    )
    for r in results:
        if isinstance(r, BaseException) and not isinstance(r, ApiError):
            raise r
    if isinstance(results[0], ApiError):  # not the person's client, or none: nothing else is shown
        raise results[0]
    client, relationship, brief, opportunities = (None if isinstance(r, BaseException) else r for r in results)
    problems = sorted({r.message for r in results if isinstance(r, ApiError) and r.status != 404})
    progress = {r["request_id"]: r for r in (brief or {}).get("open_requests", [])}
    # The brief leaves out requests whose delivery was accepted: those few are asked for one by one.
    done = [
        r for r in client.get("open_requests", []) if r["request_id"] not in progress and r["status"] == "handed_off"
    ]
    for found in await asyncio.gather(
        *(api.get("intake", f"/v1/requests/{r['request_id']}") for r in done), return_exceptions=True
    ):
        if isinstance(found, dict) and found.get("delivery"):
            delivery = found["delivery"]
            progress[found["request_id"]] = {
                "work_orders": delivery.get("work_orders", []),
                "delivery_status": "accepted" if delivery.get("acceptance") else delivery.get("handover"),
            }
    requests = [{**r, **progress.get(r["request_id"], {})} for r in client.get("open_requests", [])]
    return {
        "client": client,
        "relationship": relationship,
        "brief": brief,
        "opportunities": opportunities,
        "requests": requests,
        "problems": problems,
    }


def client_context(client_id: str):
    async def context(request: Request, session: Session) -> dict:
        return await client_ctx(request, session, client_id)

    return context


@router.get("/clients/{client_id}", response_class=HTMLResponse)
async def client_page(request: Request, client_id: str) -> Response:
    c = console(request)
    session = c.person(request)
    return c.render(request, "client.html", session, **await client_ctx(request, session, client_id))


@router.get("/clients/{client_id}/journey.svg")
async def journey_svg(request: Request, client_id: str) -> Response:
    """The client's journey picture: every service's lane (the first 1,000 events of each)."""
    c = console(request)
    session = c.person(request)
    if not ID.match(client_id):
        raise Refused(404, "There is no such client.")
    journey = await read_journey(c.api(request, session), client_id=client_id)
    return Response(journey.svg(f"journey of client {client_id}"), media_type="image/svg+xml")


def client_write(request: Request, client_id: str, *, service: str, path: str, body, form_name: str, done: str):
    """A form on the client page, back to the client page."""
    return console(request).submit(
        request,
        service=service,
        path=f"/v1/clients/{client_id}{path}",
        body=body,
        form_name=form_name,
        done=done,
        to=f"/clients/{client_id}",
        template="client.html",
        context=client_context(client_id),
    )


@router.post("/clients/{client_id}/notes")
async def add_note(request: Request, client_id: str) -> Response:
    return await client_write(
        request,
        client_id,
        service="intake",
        path="/notes",
        body=lambda f, s: {"text": f.get("text", "")},
        form_name="note",
        done="note",
    )


def need(form: FormData, session: Session) -> dict:
    body: dict[str, Any] = {"summary": form.get("summary", ""), "requirements": requirements(form.get("requirements"))}
    for name in ("budget", "desired_by"):
        if form.get(name):
            body[name] = form.get(name)
    if form.get("currency"):
        body["currency"] = str(form.get("currency")).upper()
    return body


@router.post("/clients/{client_id}/needs")
async def capture_need(request: Request, client_id: str) -> Response:
    return await console(request).submit(
        request,
        service="intake",
        path=f"/v1/clients/{client_id}/requests",
        body=need,
        form_name="need",
        done="need",
        to=lambda answer: f"/requests/{answer['ids']['request_id']}",
        template="client.html",
        context=client_context(client_id),
    )


@router.post("/clients/{client_id}/satisfaction")
async def satisfaction(request: Request, client_id: str) -> Response:
    return await client_write(
        request,
        client_id,
        service="followup",
        path="/satisfaction",
        body=lambda f, s: {"score": number(f.get("score", "")), "comment": f.get("comment", "")},
        form_name="satisfaction",
        done="satisfaction",
    )


def requirements(text: Any) -> dict[str, str]:
    """``name: value`` lines into requirements (a line without a colon is a note of its own)."""
    found: dict[str, str] = {}
    for n, line in enumerate(str(text or "").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        name, sep, value = line.partition(":")
        if sep and name.strip():
            found[name.strip()] = value.strip()
        else:
            found[f"note {n}"] = line
    return found
