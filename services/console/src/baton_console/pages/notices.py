"""A person's e-mail notices: which kinds they receive (each turned on or off), and the last
notices sent, queued or given up."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from baton_console.session import Session
from baton_console.web import DONE, after, console

router = APIRouter()
DONE.update({"notice-kind": "Your e-mail preferences are saved."})
RECENT = 20


async def notices_ctx(request: Request, session: Session) -> dict:
    api = console(request).api(request, session)
    seen_at = after(request).get("notify")
    preferences = await api.get("notify", "/v1/notices/preferences", min_position=seen_at)
    recent = await api.get("notify", "/v1/notices", person=session.name, limit=RECENT, offset=0)
    return {"preferences": preferences, "recent": recent}


@router.get("/notices", response_class=HTMLResponse)
async def notices(request: Request) -> Response:
    c = console(request)
    session = c.person(request)
    return c.render(request, "notices.html", session, **await notices_ctx(request, session))


@router.post("/notices/{kind}")
async def turn(request: Request, kind: str) -> Response:
    return await console(request).submit(
        request,
        service="notify",
        path=f"/v1/notices/preferences/{kind}",
        body=lambda f, s: {"on": f.get("on") == "true"},
        form_name=f"kind-{kind}",
        done="notice-kind",
        to="/notices",
        template="notices.html",
        context=notices_ctx,
        method="PUT",
    )
