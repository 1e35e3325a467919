"""Signing in and out, and the landing page of each role."""

from __future__ import annotations

import logging
import secrets

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from baton_console.gateway import ApiError
from baton_console.session import SIGNIN_COOKIE, same, set_cookie
from baton_console.web import Refused, console

log = logging.getLogger("baton.console")

router = APIRouter()
LANDING = {"account_manager": "/agenda", "department": "/board", "ops": "/ops", "admin": "/clients", "head": "/clients"}


@router.get("/signin", response_class=HTMLResponse)
async def signin_page(request: Request) -> Response:
    value = secrets.token_urlsafe(24)
    response = console(request).render(request, "signin.html", None, signin_csrf=value, error=None)
    set_cookie(response, request, SIGNIN_COOKIE, value, 3600)
    return response


@router.post("/signin")
async def sign_in(request: Request) -> Response:
    c = console(request)
    form = await request.form()
    if not same(form.get("csrf_token"), request.cookies.get(SIGNIN_COOKIE)):
        raise Refused(403, "The sign-in form expired or did not come from this console. Reload it and try again.")
    token = str(form.get("token") or "").strip()
    error = None
    if not token:
        error = "Please paste your Baton token."
    else:
        try:
            api = request.app.state.gateway.as_person(token)
            me = await api.get("intake", "/v1/me")
            sign_outs = (await api.get("intake", "/v1/me/sign-outs"))["sign_outs"]
        except ApiError as exc:
            error = "This token is not known to Baton." if exc.status == 401 else exc.message
    if error:
        value = secrets.token_urlsafe(24)
        response = c.render(request, "signin.html", None, 401 if token else 422, signin_csrf=value, error=error)
        set_cookie(response, request, SIGNIN_COOKIE, value, 3600)
        return response
    response = RedirectResponse("/", status_code=303)
    session = c.sessions.start(
        response,
        request,
        token=token,
        name=me["name"],
        role=me["role"],
        department=me.get("department"),
        sign_outs=sign_outs,
    )
    c.sign_outs.saw(session, sign_outs)
    response.delete_cookie(SIGNIN_COOKIE, path="/")
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    c = console(request)
    session = c.person(request)
    form = await request.form()
    if not same(form.get("csrf_token"), session.csrf):
        raise Refused(403, "This form did not come from your console session; you are still signed in.")
    response = RedirectResponse("/signin", status_code=303)
    c.sessions.end(response, session)
    try:  # counted in intake, so every other replica ends the session too
        answer = await c.api(request, session).post("intake", "/v1/me/sign-outs", {}, None)
        c.sign_outs.saw(session, answer["sign_outs"])
    except ApiError as exc:
        log.warning(
            "sign-out not counted in intake (%s): other replicas keep the session until it expires", exc.message
        )
    return response


@router.get("/")
async def home(request: Request) -> Response:
    session = console(request).person(request)
    return RedirectResponse(LANDING.get(session.role, "/clients"), status_code=303)
