"""The console: FastAPI serving Jinja2 pages (``pages/``) made from the services' APIs.

This module wires it: settings, the sealed sessions, the connection pools to the
services, the templates, security headers and how refusals are shown. What every page
shares is in ``web.py``; the pages themselves, one module per family, in ``pages/``.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from baton_console.gateway import ApiError, Gateway
from baton_console.pages import routers
from baton_console.session import Sessions, SignOutWatch
from baton_console.settings import ConsoleSettings
from baton_console.web import Console, Refused, SignInNeeded, new_key

HERE = Path(__file__).parent
CHANNELS = ("phone", "email", "meeting", "sms", "chat", "letter")
OUTCOMES = (
    ("reached", "Reached the client"),
    ("no_answer", "No answer"),
    ("left_message", "Left a message"),
    ("stop", "The client asked us to stop contacting them"),
)
KINDS = {
    "satisfaction": "Satisfaction check",
    "review": "Review call",
    "reactivation": "Reactivation",
    "offer": "Offer",
    "introduction": "Introduction (new account manager)",
    "outcome_review": "Outcome review",
    "program_notice": "Program notice deadline",
    "program_renewal": "Program renewal",
}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "script-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def create_app(settings: ConsoleSettings | None = None, transport: Any = None) -> FastAPI:
    """The console; ``transport`` (an httpx transport) replaces the network to the services in tests."""
    settings = settings or ConsoleSettings()
    sessions = Sessions(settings.fernet_key(), settings.session_hours)
    urls = {
        "intake": settings.intake_url,
        "delivery": settings.delivery_url,
        "followup": settings.followup_url,
        "notify": settings.notify_url,
    }

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        app.state.gateway = Gateway(urls, settings.api_timeout_seconds, transport)
        try:
            yield
        finally:
            await app.state.gateway.close()

    app = FastAPI(title="Baton console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(
        CHANNELS=CHANNELS, OUTCOMES=OUTCOMES, refresh=settings.agenda_refresh_seconds, new_key=new_key
    )
    templates.env.filters["day"] = lambda v: (v or "")[:10]
    templates.env.filters["when"] = lambda v: (v or "").replace("T", " ")[:16]
    templates.env.filters["words"] = lambda v: str(v or "").replace("_", " ")
    templates.env.filters["kind"] = lambda v: KINDS.get(v, str(v or "").replace("_", " ").capitalize())
    console = app.state.console = Console(sessions, templates, SignOutWatch(settings.sign_out_check_seconds))

    @app.middleware("http")
    async def signed_out_elsewhere(request: Request, call_next):
        """A session whose person signed out on another replica since it began ends here too."""
        session = None if request.url.path.startswith("/static/") else sessions.read(request)
        if session is not None:
            api = request.app.state.gateway.as_person(session.token)
            if await console.sign_outs.ended(session, lambda: api.get("intake", "/v1/me/sign-outs")):
                sessions.forget(session)
        return await call_next(request)

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, _exc: SignInNeeded) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/signin"})
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return console.render(request, "error.html", sessions.read(request), exc.status, message=exc.message)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 401:
            return await to_sign_in(request, SignInNeeded())
        return console.render(request, "error.html", sessions.read(request), exc.status, message=exc.message)

    @app.get("/health")
    async def health() -> dict:
        """The console answers (compose's health check); the services' health is on /ops."""
        return {"service": "console", "status": "ok"}

    for router in routers:
        app.include_router(router)
    return app
