"""What every page of the console shares: who is signed in, their API, rendering, and forms.

Every page is a plain GET that works without JavaScript; htmx only refreshes parts of a
page (the agenda). Every form carries the session's CSRF token (checked) and an
``Idempotency-Key`` made when the form was rendered, sent with the write, so a form
submitted twice is recorded once. A write answers with a redirect to the page it changed
(post/redirect/get), which reads at the written position (read-your-writes).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from baton_console.gateway import APIS, Api, ApiError
from baton_console.session import Session, Sessions, SignOutWatch, same

PAGE = 20  # items per page of a list
KEY = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")  # a client or correlation id, as the services' paths take it
DONE: dict[str, str] = {}  # ?done=<what> -> the line a page shows after a write; each page module adds its own

# A page's context, to render it again with a form's error beside its fields.
Context = Callable[[Request, Session], Awaitable[dict]]


class SignInNeeded(Exception):
    """No (valid) session: the person is sent to the sign-in page."""


class Refused(Exception):
    """A request the console refuses itself (a form without its CSRF token, a bad key)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def new_key() -> str:
    return str(uuid.uuid4())


class Console:
    """The signed-in person, their API and the templates, for the page modules (``pages/``)."""

    def __init__(self, sessions: Sessions, templates: Jinja2Templates, sign_outs: SignOutWatch) -> None:
        self.sessions = sessions
        self.templates = templates
        self.sign_outs = sign_outs

    def person(self, request: Request) -> Session:
        session = self.sessions.read(request)
        if session is None:
            raise SignInNeeded()
        return session

    def api(self, request: Request, session: Session) -> Api:
        return request.app.state.gateway.as_person(session.token)

    def render(
        self, request: Request, name: str, session: Session | None, status: int = 200, **ctx: Any
    ) -> HTMLResponse:
        ctx.setdefault("errors", {})
        ctx.setdefault("values", {})
        ctx.setdefault("keys", {})
        done = request.query_params.get("done")
        return self.templates.TemplateResponse(
            request, name, {"me": session, "done": DONE.get(done or ""), **ctx}, status_code=status
        )

    async def posted(self, request: Request, session: Session) -> FormData:
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

    async def submit(
        self,
        request: Request,
        *,
        service: str,
        path: str,
        body: Callable[[FormData, Session], Any],
        form_name: str,
        done: str,
        to: str | Callable[[dict], str],
        template: str,
        context: Context,
        fields: Callable[[str], str] = lambda name: name,
        method: str = "POST",
    ) -> Response:
        """A form's write, the one shape of every form: the session and CSRF token checked, the
        body made from the form, sent with the form's key; on success back to ``to`` (a page, or
        made from the answer); on an API error ``template`` again with ``context``, the error
        beside its fields (``fields`` renames an API field to the form's). A 503 keeps the key
        (retrying is safe and still once); anything else gets a new key (the person will send
        something different)."""
        session = self.person(request)
        form = await self.posted(request, session)
        key = str(form.get("idempotency_key"))
        try:
            answer = await self.api(request, session).post(service, path, body(form, session), key, method)
        except ApiError as exc:
            if exc.status == 401:
                raise SignInNeeded() from exc
            failure = {
                "form": form_name,
                "message": exc.message,
                "fields": {fields(k): v for k, v in exc.fields.items()},
                "status": exc.status,
                "refusal": exc.refusal,
            }
            values = {k: v for k, v in form.items() if k not in ("csrf_token", "idempotency_key")}
            ctx = await context(request, session)
            return self.render(
                request,
                template,
                session,
                exc.status if 400 <= exc.status < 600 else 400,
                **{
                    **ctx,
                    "errors": {form_name: failure},
                    "values": {form_name: values},
                    "keys": {form_name: key if exc.retryable else new_key()},
                },
            )
        return back(to if isinstance(to, str) else to(answer), done, service, answer)


def console(request: Request) -> Console:
    return request.app.state.console


def after(request: Request) -> dict[str, int]:
    """``?after=intake:42`` -> {"intake": 42}: the position a page must read at."""
    found: dict[str, int] = {}
    for item in request.query_params.getlist("after"):
        service, _, seq = item.partition(":")
        if service in APIS and seq.isdigit():
            found[service] = int(seq)
    return found


def back(url: str, done: str, service: str, answer: Any) -> RedirectResponse:
    position = answer.get("position") if isinstance(answer, dict) else None
    query = urlencode({"done": done})
    if isinstance(position, dict) and isinstance(position.get("seq"), int):
        query += "&" + urlencode({"after": f"{service}:{position['seq']}"})
    return RedirectResponse(f"{url}?{query}", status_code=303)


def number(text: Any) -> Any:
    """A form's whole number as a JSON number (the APIs take no numbers in strings); anything
    else as typed, for the API to refuse beside its field."""
    if isinstance(text, str) and text.strip().lstrip("-").isdigit():
        return int(text.strip())
    return text


def rows(form: FormData, *names: str) -> list[dict[str, str]]:
    """Repeated fields (``department``, ``scope``, ...) as rows, empty rows dropped."""
    columns = [form.getlist(n) for n in names]
    found = []
    for values in zip(*columns, strict=False):
        row = {n: str(v).strip() for n, v in zip(names, values, strict=False)}
        if any(row.values()):
            found.append(row)
    return found
