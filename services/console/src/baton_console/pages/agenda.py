"""The account manager's agenda: what is due, and recording a contact's outcome."""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from baton_console.pages.clients import client_ctx  # the client page records contacts too
from baton_console.session import Session
from baton_console.web import DONE, PAGE, after, console

router = APIRouter()
DONE.update({"contact": "Contact recorded.", "satisfaction": "Satisfaction recorded."})


async def agenda_ctx(request: Request, session: Session, offset: int = 0) -> dict:
    """Today's follow-ups, those the contact policy holds back included (each says why not)."""
    page = (
        await console(request)
        .api(request, session)
        .get(
            "followup",
            "/v1/agenda",
            limit=PAGE,
            offset=offset,
            due_before=date.today().isoformat(),
            include="held",
            min_position=after(request).get("followup"),
        )
    )
    return {"agenda": page, "offset": offset, "page_size": PAGE}


@router.get("/agenda", response_class=HTMLResponse)
async def agenda(request: Request, offset: int = 0, fragment: bool = False) -> Response:
    c = console(request)
    session = c.person(request)
    ctx = await agenda_ctx(request, session, max(0, offset))
    return c.render(request, "_agenda_items.html" if fragment else "agenda.html", session, **ctx)


@router.post("/follow-ups/{follow_up_id}/contact")
async def record_contact(request: Request, follow_up_id: str) -> Response:
    form = await request.form()
    client_id = str(form.get("client_id") or "")  # recorded from the client page rather than the agenda
    client_id = client_id if re.fullmatch(r"[0-9a-f-]{36}", client_id) else ""

    async def context(request: Request, session: Session) -> dict:
        return await (client_ctx(request, session, client_id) if client_id else agenda_ctx(request, session))

    return await console(request).submit(
        request,
        service="followup",
        path=f"/v1/follow-ups/{follow_up_id}/contacts",
        body=lambda f, s: {"channel": f.get("channel"), "outcome": f.get("outcome"), "note": f.get("note") or ""},
        form_name=f"contact-{follow_up_id}",
        done="contact",
        to=f"/clients/{client_id}" if client_id else "/agenda",
        template="client.html" if client_id else "agenda.html",
        context=context,
    )
