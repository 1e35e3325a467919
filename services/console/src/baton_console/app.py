"""The console's pages: FastAPI routes rendering Jinja2 templates from the services' APIs.

Every page is a plain GET that works without JavaScript; htmx only refreshes parts of a
page (the agenda). Every form carries the session's CSRF token (checked) and an
``Idempotency-Key`` made when the form was rendered, sent with the write, so a form
submitted twice is recorded once. A write answers with a redirect to the page it changed
(post/redirect/get), which reads at the written position (read-your-writes).
"""

from __future__ import annotations

import asyncio
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from baton_shared.journey_picture import journey_from_timeline, render_svg
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from baton_console.gateway import SERVICES, Api, ApiError, Gateway
from baton_console.session import SIGNIN_COOKIE, Session, Sessions, same, set_cookie
from baton_console.settings import ConsoleSettings

HERE = Path(__file__).parent
PAGE = 20  # items per page of a list
KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CHANNELS = ("phone", "email", "meeting", "sms", "chat", "letter")
OUTCOMES = (
    ("reached", "Reached the client"),
    ("no_answer", "No answer"),
    ("left_message", "Left a message"),
    ("stop", "The client asked us to stop contacting them"),
)
DONE = {
    "client": "Client registered.",
    "note": "Nuance recorded.",
    "need": "Need captured.",
    "clarification": "Clarification recorded.",
    "handoff": "Handed off to the departments.",
    "change": "Change relayed to the departments.",
    "verdict": "The client's verdict is recorded.",
    "contact": "Contact recorded.",
    "satisfaction": "Satisfaction recorded.",
    "cancel": "Request cancelled.",
    "accept": "Work order accepted.",
    "start": "Work started.",
    "progress": "Progress noted.",
    "block": "Work order blocked.",
    "unblock": "Work order unblocked.",
    "complete": "Work order completed.",
}
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


class SignInNeeded(Exception):
    """No (valid) session: the person is sent to the sign-in page."""


class Refused(Exception):
    """A request the console refuses itself (a form without its CSRF token, a bad key)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def new_key() -> str:
    return str(uuid.uuid4())


def create_app(settings: ConsoleSettings | None = None, transport: Any = None) -> FastAPI:
    """The console; ``transport`` (an httpx transport) replaces the network to the services in tests."""
    settings = settings or ConsoleSettings()
    sessions = Sessions(settings.fernet_key(), settings.session_hours)
    urls = {"intake": settings.intake_url, "delivery": settings.delivery_url, "followup": settings.followup_url}

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

    @app.middleware("http")
    async def security_headers(request: Request, call_next):
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            if name == "Cache-Control" and request.url.path.startswith("/static/"):
                continue
            response.headers.setdefault(name, value)
        return response

    # --- plumbing ----------------------------------------------------------------------

    def person(request: Request) -> Session:
        session = sessions.read(request)
        if session is None:
            raise SignInNeeded()
        return session

    def api_for(request: Request, session: Session) -> Api:
        return request.app.state.gateway.as_person(session.token)

    def render(request: Request, name: str, session: Session | None, status: int = 200, **ctx: Any) -> HTMLResponse:
        ctx.setdefault("errors", {})
        ctx.setdefault("values", {})
        ctx.setdefault("keys", {})
        done = request.query_params.get("done")
        return templates.TemplateResponse(
            request, name, {"me": session, "done": DONE.get(done or ""), **ctx}, status_code=status
        )

    async def posted(request: Request, session: Session) -> FormData:
        """The form, once its CSRF token matched the session's; its idempotency key checked."""
        form = await request.form()
        if not same(form.get("csrf_token"), session.csrf):
            raise Refused(
                403,
                "This form did not come from your console session (its security token is missing or "
                "stale), so nothing was sent. Reload the page and try again.",
            )
        key = form.get("idempotency_key")
        if not isinstance(key, str) or not KEY.match(key):
            raise Refused(400, "This form has no valid idempotency key; reload the page and try again.")
        return form

    def after(request: Request) -> dict[str, int]:
        """``?after=intake:42`` → {"intake": 42}: the position a page must read at."""
        found: dict[str, int] = {}
        for item in request.query_params.getlist("after"):
            service, _, seq = item.partition(":")
            if service in SERVICES and seq.isdigit():
                found[service] = int(seq)
        return found

    def back(url: str, done: str, service: str, answer: Any) -> RedirectResponse:
        params = {"done": done}
        position = answer.get("position") if isinstance(answer, dict) else None
        query = urlencode(params)
        if isinstance(position, dict) and isinstance(position.get("seq"), int):
            query += "&" + urlencode({"after": f"{service}:{position['seq']}"})
        return RedirectResponse(f"{url}?{query}", status_code=303)

    async def write(
        request: Request,
        session: Session,
        service: str,
        path: str,
        body: Any,
        form: FormData,
        *,
        done: str,
        to: str,
        again: Callable[[dict], Awaitable[Response]],
        form_name: str,
    ) -> Response:
        """Send a form's write; on success back to ``to``; on an API error the page again, the
        error beside its fields. A 503 keeps the key (retrying is safe and still once);
        anything else gets a new key (the person will send something different)."""
        api = api_for(request, session)
        key = str(form.get("idempotency_key"))
        try:
            answer = await api.post(service, path, body, key)
        except ApiError as exc:
            if exc.status == 401:
                raise SignInNeeded() from exc
            failure = {
                "form": form_name,
                "message": exc.message,
                "fields": exc.fields,
                "status": exc.status,
                "refusal": exc.refusal,
            }
            values = {k: v for k, v in form.items() if k not in ("csrf_token", "idempotency_key")}
            keys = {form_name: key if exc.retryable else new_key()}
            response = await again({"errors": {form_name: failure}, "values": {form_name: values}, "keys": keys})
            response.status_code = exc.status if 400 <= exc.status < 600 else 400
            return response
        return back(to, done, service, answer)

    @app.exception_handler(SignInNeeded)
    async def to_sign_in(request: Request, _exc: SignInNeeded) -> Response:
        if request.headers.get("HX-Request"):
            return Response(status_code=401, headers={"HX-Redirect": "/signin"})
        return RedirectResponse("/signin", status_code=303)

    @app.exception_handler(Refused)
    async def refused(request: Request, exc: Refused) -> Response:
        return render(request, "error.html", sessions.read(request), exc.status, message=exc.message)

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        if exc.status == 401:
            return await to_sign_in(request, SignInNeeded())
        return render(request, "error.html", sessions.read(request), exc.status, message=exc.message)

    @app.get("/health")
    async def health() -> dict:
        """The console answers (compose's health check); the services' health is on /ops."""
        return {"service": "console", "status": "ok"}

    # --- signing in and out ---------------------------------------------------------------

    @app.get("/signin", response_class=HTMLResponse)
    async def signin_page(request: Request, error: str = "") -> Response:
        value = secrets.token_urlsafe(24)
        response = render(request, "signin.html", None, signin_csrf=value, error=None)
        set_cookie(response, request, SIGNIN_COOKIE, value, 3600)
        return response

    @app.post("/signin")
    async def sign_in(request: Request) -> Response:
        form = await request.form()
        if not same(form.get("csrf_token"), request.cookies.get(SIGNIN_COOKIE)):
            raise Refused(403, "The sign-in form expired or did not come from this console. Reload it and try again.")
        token = str(form.get("token") or "").strip()
        error = None
        if not token:
            error = "Please paste your Baton token."
        else:
            try:
                me = await request.app.state.gateway.as_person(token).get("intake", "/v1/me")
            except ApiError as exc:
                error = "This token is not known to Baton." if exc.status == 401 else exc.message
        if error:
            value = secrets.token_urlsafe(24)
            response = render(request, "signin.html", None, 401 if token else 422, signin_csrf=value, error=error)
            set_cookie(response, request, SIGNIN_COOKIE, value, 3600)
            return response
        response = RedirectResponse("/", status_code=303)
        sessions.start(
            response, request, token=token, name=me["name"], role=me["role"], department=me.get("department")
        )
        response.delete_cookie(SIGNIN_COOKIE, path="/")
        return response

    @app.post("/signout")
    async def sign_out(request: Request) -> Response:
        session = person(request)
        form = await request.form()
        if not same(form.get("csrf_token"), session.csrf):
            raise Refused(403, "This form did not come from your console session; you are still signed in.")
        response = RedirectResponse("/signin", status_code=303)
        sessions.end(response, session)
        return response

    @app.get("/")
    async def home(request: Request) -> Response:
        session = person(request)
        landing = {"account_manager": "/agenda", "department": "/board", "ops": "/ops", "admin": "/clients",
                   "head": "/clients"}
        return RedirectResponse(landing.get(session.role, "/clients"), status_code=303)

    # --- account manager: the agenda ------------------------------------------------------

    async def agenda_ctx(request: Request, session: Session, offset: int) -> dict:
        api = api_for(request, session)
        due_before = (date.today() + timedelta(days=0)).isoformat()
        page = await api.get(
            "followup",
            "/v1/agenda",
            limit=PAGE,
            offset=offset,
            due_before=due_before,
            min_position=after(request).get("followup"),
        )
        return {"agenda": page, "offset": offset, "page_size": PAGE}

    @app.get("/agenda", response_class=HTMLResponse)
    async def agenda(request: Request, offset: int = 0, fragment: bool = False) -> Response:
        session = person(request)
        ctx = await agenda_ctx(request, session, max(0, offset))
        return render(request, "_agenda_items.html" if fragment else "agenda.html", session, **ctx)

    @app.post("/follow-ups/{follow_up_id}/contact")
    async def record_contact(request: Request, follow_up_id: str) -> Response:
        session = person(request)
        form = await posted(request, session)
        body = {"channel": form.get("channel"), "outcome": form.get("outcome"), "note": form.get("note") or ""}
        client_id = str(form.get("client_id") or "")  # recorded from the client page rather than the agenda
        client_id = client_id if re.fullmatch(r"[0-9a-f-]{36}", client_id) else ""

        async def again(extra: dict) -> Response:
            if client_id:
                ctx = await client_ctx(request, session, client_id)
                return render(request, "client.html", session, **{**ctx, **extra})
            ctx = await agenda_ctx(request, session, 0)
            return render(request, "agenda.html", session, **{**ctx, **extra})

        return await write(
            request,
            session,
            "followup",
            f"/v1/follow-ups/{follow_up_id}/contacts",
            body,
            form,
            done="contact",
            to=f"/clients/{client_id}" if client_id else "/agenda",
            again=again,
            form_name=f"contact-{follow_up_id}",
        )

    # --- clients ---------------------------------------------------------------------------

    @app.get("/clients", response_class=HTMLResponse)
    async def clients(request: Request, q: str = "", offset: int = 0) -> Response:
        session = person(request)
        api = api_for(request, session)
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
        return render(
            request,
            "clients.html",
            session,
            clients=page,
            q=q,
            offset=max(0, offset),
            page_size=PAGE,
            escalations=escalations,
        )

    def client_form(request: Request, session: Session, status: int = 200, **extra: Any) -> Response:
        return render(request, "client_new.html", session, status, **extra)

    @app.get("/clients/new", response_class=HTMLResponse)
    async def new_client(request: Request) -> Response:
        return client_form(request, person(request))

    @app.post("/clients")
    async def register_client(request: Request) -> Response:
        session = person(request)
        form = await posted(request, session)
        body: dict[str, Any] = {
            "name": form.get("name", ""),
            "segment": form.get("segment", ""),
            "account_manager": session.name if session.role == "account_manager" else form.get("account_manager", ""),
            "business_description": form.get("business_description", ""),
        }
        if form.get("annual_revenue"):
            body["annual_revenue"] = form.get("annual_revenue")
        if form.get("contact_name"):
            body["contacts"] = [
                {
                    k: v
                    for k, v in {
                        "name": form.get("contact_name"),
                        "email": form.get("contact_email") or None,
                        "phone": form.get("contact_phone") or None,
                    }.items()
                    if v
                }
            ]
        if form.get("max_contacts_per_30_days"):
            body["contact_policy"] = {"max_contacts_per_30_days": _number(form.get("max_contacts_per_30_days"))}
        api = api_for(request, session)
        key = str(form.get("idempotency_key"))
        try:
            answer = await api.post("intake", "/v1/clients", body, key)
        except ApiError as exc:
            if exc.status == 401:
                raise SignInNeeded() from exc
            fields = {_client_field(k): v for k, v in exc.fields.items()}
            values = {k: v for k, v in form.items() if k not in ("csrf_token", "idempotency_key")}
            return client_form(
                request,
                session,
                exc.status,
                errors={"client": {"message": exc.message, "fields": fields, "status": exc.status}},
                values={"client": values},
                keys={"client": key if exc.retryable else new_key()},
            )
        return back(f"/clients/{answer['ids']['client_id']}", "client", "intake", answer)

    async def client_ctx(request: Request, session: Session, client_id: str) -> dict:
        """Four calls in parallel. Each request's departments come from the brief (one call, not
        one per request); the journey picture is its own image (/clients/{id}/journey.svg), so
        the page does not wait for the whole timeline."""
        api = api_for(request, session)
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
            r
            for r in client.get("open_requests", [])
            if r["request_id"] not in progress and r["status"] == "handed_off"
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

    @app.get("/clients/{client_id}", response_class=HTMLResponse)
    async def client_page(request: Request, client_id: str) -> Response:
        session = person(request)
        return render(request, "client.html", session, **await client_ctx(request, session, client_id))

    @app.get("/clients/{client_id}/journey.svg")
    async def journey_svg(request: Request, client_id: str) -> Response:
        """The client's journey picture (the first 1,000 events of the timeline)."""
        session = person(request)
        timeline = await api_for(request, session).get("intake", f"/v1/clients/{client_id}/timeline", limit=1000)
        svg = render_svg(journey_from_timeline(timeline["items"]), title=f"journey of client {client_id}")
        return Response(svg, media_type="image/svg+xml")

    def client_again(request: Request, session: Session, client_id: str):
        async def again(extra: dict) -> Response:
            return render(request, "client.html", session, **{**await client_ctx(request, session, client_id), **extra})

        return again

    @app.post("/clients/{client_id}/notes")
    async def add_note(request: Request, client_id: str) -> Response:
        session = person(request)
        form = await posted(request, session)
        return await write(
            request,
            session,
            "intake",
            f"/v1/clients/{client_id}/notes",
            {"text": form.get("text", "")},
            form,
            done="note",
            to=f"/clients/{client_id}",
            again=client_again(request, session, client_id),
            form_name="note",
        )

    @app.post("/clients/{client_id}/needs")
    async def capture_need(request: Request, client_id: str) -> Response:
        session = person(request)
        form = await posted(request, session)
        body: dict[str, Any] = {
            "summary": form.get("summary", ""),
            "requirements": _requirements(form.get("requirements")),
        }
        for name in ("budget", "desired_by"):
            if form.get(name):
                body[name] = form.get(name)
        if form.get("currency"):
            body["currency"] = str(form.get("currency")).upper()
        api = api_for(request, session)
        key = str(form.get("idempotency_key"))
        try:
            answer = await api.post("intake", f"/v1/clients/{client_id}/requests", body, key)
        except ApiError as exc:
            if exc.status == 401:
                raise SignInNeeded() from exc
            values = {k: v for k, v in form.items() if k not in ("csrf_token", "idempotency_key")}
            ctx = await client_ctx(request, session, client_id)
            return render(
                request,
                "client.html",
                session,
                exc.status,
                **ctx,
                errors={"need": {"message": exc.message, "fields": exc.fields}},
                values={"need": values},
                keys={"need": key if exc.retryable else new_key()},
            )
        return back(f"/requests/{answer['ids']['request_id']}", "need", "intake", answer)

    @app.post("/clients/{client_id}/satisfaction")
    async def satisfaction(request: Request, client_id: str) -> Response:
        session = person(request)
        form = await posted(request, session)
        body = {"score": _number(form.get("score", "")), "comment": form.get("comment", "")}
        return await write(
            request,
            session,
            "followup",
            f"/v1/clients/{client_id}/satisfaction",
            body,
            form,
            done="satisfaction",
            to=f"/clients/{client_id}",
            again=client_again(request, session, client_id),
            form_name="satisfaction",
        )

    # --- requests -----------------------------------------------------------------------

    async def request_ctx(request: Request, session: Session, request_id: str) -> dict:
        api = api_for(request, session)
        at = after(request)
        need = await api.get("intake", f"/v1/requests/{request_id}", min_position=at.get("intake"))
        try:
            delivery = await api.get("delivery", f"/v1/requests/{request_id}/delivery", min_position=at.get("delivery"))
        except ApiError as exc:
            if exc.status != 404:  # 404: no work handed off yet
                raise
            delivery = None
        return {"need": need, "delivery": delivery, "due_default": (date.today() + timedelta(days=30)).isoformat()}

    def request_again(request: Request, session: Session, request_id: str):
        async def again(extra: dict) -> Response:
            return render(
                request, "request.html", session, **{**await request_ctx(request, session, request_id), **extra}
            )

        return again

    @app.get("/requests/{request_id}", response_class=HTMLResponse)
    async def request_page(request: Request, request_id: str) -> Response:
        session = person(request)
        return render(request, "request.html", session, **await request_ctx(request, session, request_id))

    def request_write(path: str, done: str, form_name: str, service: str, make_body: Callable[[FormData], Any]):
        async def handler(request: Request, request_id: str) -> Response:
            session = person(request)
            form = await posted(request, session)
            return await write(
                request,
                session,
                service,
                path.format(request_id=request_id),
                make_body(form),
                form,
                done=done,
                to=f"/requests/{request_id}",
                again=request_again(request, session, request_id),
                form_name=form_name,
            )

        return handler

    app.post("/requests/{request_id}/clarifications")(
        request_write(
            "/v1/requests/{request_id}/clarifications",
            "clarification",
            "clarification",
            "intake",
            lambda f: {"question": f.get("question", ""), "answer": f.get("answer", "")},
        )
    )
    app.post("/requests/{request_id}/handoffs")(
        request_write("/v1/requests/{request_id}/handoffs", "handoff", "handoff", "intake", _handoff)
    )
    app.post("/requests/{request_id}/changes")(
        request_write(
            "/v1/requests/{request_id}/changes",
            "change",
            "change",
            "intake",
            lambda f: {
                "description": f.get("description", ""),
                **({"department": f["department"]} if f.get("department") else {}),
            },
        )
    )
    app.post("/requests/{request_id}/verdict")(
        request_write("/v1/requests/{request_id}/acceptance", "verdict", "verdict", "delivery", _verdict)
    )
    app.post("/requests/{request_id}/cancel")(
        request_write(
            "/v1/requests/{request_id}/cancel", "cancel", "cancel", "intake", lambda f: {"reason": f.get("reason", "")}
        )
    )

    # --- departments ----------------------------------------------------------------------

    @app.get("/board", response_class=HTMLResponse)
    async def board(request: Request, department: str = "", offset: int = 0) -> Response:
        session = person(request)
        api = api_for(request, session)
        department = session.department if session.role == "department" else department.strip().lower()
        if not department:
            return render(request, "board.html", session, department="", board=None, orders=None)
        at = after(request).get("delivery")
        board_view, orders = await asyncio.gather(
            api.get("delivery", f"/v1/departments/{department}/board", min_position=at),
            api.get(
                "delivery", "/v1/work-orders", department=department, limit=PAGE, offset=max(0, offset), min_position=at
            ),
        )
        return render(
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
        api = api_for(request, session)
        order = await api.get(
            "delivery", f"/v1/work-orders/{work_order_id}", min_position=after(request).get("delivery")
        )
        return {"order": order}

    @app.get("/work-orders/{work_order_id}", response_class=HTMLResponse)
    async def work_order(request: Request, work_order_id: str) -> Response:
        session = person(request)
        return render(request, "work_order.html", session, **await work_order_ctx(request, session, work_order_id))

    ACTIONS: dict[str, Callable[[FormData, Session], dict]] = {
        "accept": lambda f, s: {"member": f.get("member") or s.name},
        "start": lambda f, s: {},
        "progress": lambda f, s: {
            "note": f.get("note", ""),
            **({"percent": _number(f.get("percent"))} if f.get("percent") not in (None, "") else {}),
        },
        "block": lambda f, s: {"reason": f.get("reason", "")},
        "unblock": lambda f, s: {},
        "complete": lambda f, s: {"note": f.get("note", "")},
    }

    @app.post("/work-orders/{work_order_id}/{action}")
    async def work_order_action(request: Request, work_order_id: str, action: str) -> Response:
        session = person(request)
        if action not in ACTIONS:
            raise Refused(404, f"There is no action {action!r} on a work order.")
        form = await posted(request, session)

        async def again(extra: dict) -> Response:
            ctx = await work_order_ctx(request, session, work_order_id)
            return render(request, "work_order.html", session, **{**ctx, **extra})

        return await write(
            request,
            session,
            "delivery",
            f"/v1/work-orders/{work_order_id}/{action}",
            ACTIONS[action](form, session),
            form,
            done=action,
            to=f"/work-orders/{work_order_id}",
            again=again,
            form_name=action,
        )

    @app.get("/escalations", response_class=HTMLResponse)
    async def escalations(request: Request, offset: int = 0) -> Response:
        session = person(request)
        page = await api_for(request, session).get("delivery", "/v1/escalations", limit=PAGE, offset=max(0, offset))
        return render(request, "escalations.html", session, escalations=page, offset=max(0, offset), page_size=PAGE)

    # --- ops ---------------------------------------------------------------------------------

    @app.get("/ops", response_class=HTMLResponse)
    async def ops(request: Request) -> Response:
        session = person(request)
        gateway: Gateway = request.app.state.gateway

        async def health(service: str) -> dict:
            try:
                r = await gateway.clients[service].get("/health")
                return {"service": service, **r.json()}
            except Exception as exc:  # noqa: BLE001 - shown as unreachable
                return {"service": service, "status": f"unreachable ({type(exc).__name__})", "projections": []}

        services = await asyncio.gather(*(health(s) for s in SERVICES))
        return render(request, "ops.html", session, services=services)

    @app.get("/journey", response_class=HTMLResponse)
    async def journey(request: Request, id: str = "") -> Response:
        session = person(request)
        wanted = id.strip()
        svg, total, message = "", 0, None
        if wanted:
            try:
                timeline = await api_for(request, session).get("intake", f"/v1/clients/{wanted}/timeline", limit=1000)
            except ApiError as exc:
                if exc.status != 404:
                    raise
                message = (
                    f"No client has the id {wanted}. Journeys by correlation id need the log itself: "
                    f"`baton trace {wanted}` (no HTTP API answers by correlation id)."
                )
            else:
                total = timeline["total"]
                svg = render_svg(journey_from_timeline(timeline["items"]), title=f"client {wanted}")
        return render(request, "journey.html", session, wanted=wanted, svg=svg, total=total, message=message)

    return app


def _client_field(field: str) -> str:
    """An API field of the client registration, as the console form names it."""
    return {
        "contacts.name": "contact_name",
        "contacts.email": "contact_email",
        "contacts.phone": "contact_phone",
        "contact_policy.max_contacts_per_30_days": "max_contacts_per_30_days",
    }.get(field, field)


def _requirements(text: Any) -> dict[str, str]:
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


def _rows(form: FormData, *names: str) -> list[dict[str, str]]:
    """Repeated fields (``department``, ``scope``, ...) as rows, empty rows dropped."""
    columns = [form.getlist(n) for n in names]
    rows = []
    for values in zip(*columns, strict=False):
        row = {n: str(v).strip() for n, v in zip(names, values, strict=False)}
        if any(row.values()):
            rows.append(row)
    return rows


def _number(text: Any) -> Any:
    """A form's whole number as a JSON number (the APIs take no numbers in strings); anything
    else as typed, for the API to refuse beside its field."""
    if isinstance(text, str) and text.strip().lstrip("-").isdigit():
        return int(text.strip())
    return text


def _handoff(form: FormData) -> dict:
    return {"work": _rows(form, "department", "scope", "due_by")}


def _verdict(form: FormData) -> dict:
    accepted = form.get("accepted") == "yes"
    body: dict[str, Any] = {"accepted": accepted, "feedback": form.get("feedback", "")}
    if accepted and form.get("satisfaction"):
        body["satisfaction"] = _number(form.get("satisfaction"))
    if not accepted:
        body["rework"] = [
            {"department": r["rework_department"], "description": r["rework_description"]}
            for r in _rows(form, "rework_department", "rework_description")
        ]
    return body
