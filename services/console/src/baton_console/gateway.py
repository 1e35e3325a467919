"""The services' public HTTP APIs, called with the signed-in person's own token.

API errors become ``ApiError``: what a person would read, and per-field messages for
forms. Both error shapes are understood: FastAPI's ``{"detail": [{loc, msg, type}]}`` or
``{"detail": str}``, and RFC 9457 problem details ``{"detail": str, "errors": [{loc, msg, type}]}``.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

SERVICES = ("intake", "delivery", "followup")  # the services of the client's journey: events, parked
APIS = (*SERVICES, "notify")  # every API the console calls (notify: a person's notices)


class ApiError(Exception):
    def __init__(
        self, status: int, message: str, fields: dict[str, str] | None = None, body: dict | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.fields = fields or {}
        self.body = body or {}

    @property
    def retryable(self) -> bool:
        return self.status in (502, 503, 504)

    @property
    def refusal(self) -> str | None:
        """The contact policy's refusal code (follow-up's 409), when it is one."""
        code = self.body.get("refusal")
        return code.get("code") if isinstance(code, dict) else code if isinstance(code, str) else None


# pydantic's messages, as a person filling a form would say them
_PLAIN = {
    "missing": "Please fill this in.",
    "string_too_short": "Please fill this in.",
    "date_from_datetime_parsing": "Please give a date (day, month, year).",
    "date_parsing": "Please give a date (day, month, year).",
    "date_from_datetime_inexact": "Please give a date (day, month, year).",
    "int_parsing": "Please give a whole number.",
    "decimal_parsing": "Please give an amount (digits, with a dot for decimals).",
    "literal_error": "Please choose one of the options.",
    "extra_forbidden": "This field is not expected here.",
}


def _field_of(loc: Any) -> str:
    parts = [str(p) for p in (loc or []) if not isinstance(p, int) and p not in ("body", "query", "path")]
    return ".".join(parts) or "form"


def _plain(item: dict) -> str:
    kind = str(item.get("type", ""))
    if kind in _PLAIN:
        return _PLAIN[kind]
    msg = str(item.get("msg", "is not valid"))
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    return msg[:1].upper() + msg[1:] + ("" if msg.endswith(".") else ".")


def error_from(status: int, body: Any) -> ApiError:
    body = body if isinstance(body, dict) else {}
    detail, items = body.get("detail"), body.get("errors")
    if isinstance(detail, list):
        items, detail = detail, None
    fields: dict[str, str] = {}
    for item in items or []:
        if isinstance(item, dict):
            fields.setdefault(_field_of(item.get("loc")), _plain(item))
    if status in (502, 503, 504):
        message = "Baton could not finish this just now; nothing was recorded twice. Please try again in a moment."
    elif status == 401:
        message = "Your session is no longer valid; please sign in again."
    elif status == 403:
        message = f"Not allowed: {detail}." if detail else "You may not do this."
    elif status == 404:
        message = f"Not found: {detail}." if detail else "Not found."
    elif status == 422 and fields:
        message = "Please correct the fields marked below."
    else:
        message = str(detail) if detail else f"The service answered {status}."
    return ApiError(status, message, fields, body)


class Gateway:
    """One keep-alive connection pool per service, shared by every person's calls."""

    def __init__(self, urls: dict[str, str], timeout: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.clients = {
            name: httpx.AsyncClient(base_url=url, timeout=timeout, transport=transport) for name, url in urls.items()
        }

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()

    def as_person(self, token: str) -> Api:
        return Api(self, token)


class Api:
    """Calls on behalf of one person (their bearer token on every call)."""

    def __init__(self, gateway: Gateway, token: str) -> None:
        self.gateway = gateway
        self.headers = {"Authorization": f"Bearer {token}"}

    async def call(
        self,
        service: str,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        body: Any = None,
        key: str | None = None,
    ) -> Any:
        headers = dict(self.headers)
        if key:
            headers["Idempotency-Key"] = key
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        try:
            r = await self.gateway.clients[service].request(method, path, params=params, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ApiError(
                503,
                "Baton could not be reached just now; nothing was recorded twice. Please try again in a moment.",
                body={"error": type(exc).__name__},
            ) from exc
        try:
            payload = orjson.loads(r.content) if r.content else {}  # a few times faster than json for large pages
        except ValueError:
            payload = {"detail": r.text[:200]}
        if r.status_code >= 400:
            raise error_from(r.status_code, payload)
        return payload

    async def get(self, service: str, path: str, **params: Any) -> Any:
        return await self.call(service, "GET", path, params=params)

    async def csv(self, service: str, path: str, **params: Any) -> str:
        """A read answered as CSV (a report's every row), passed on as the service wrote it."""
        params = {k: v for k, v in {**params, "format": "csv"}.items() if v not in (None, "")}
        try:
            r = await self.gateway.clients[service].get(path, params=params, headers=self.headers)
        except httpx.HTTPError as exc:
            raise ApiError(503, "Baton could not be reached just now. Please try again in a moment.") from exc
        if r.status_code >= 400:
            try:
                payload = orjson.loads(r.content)
            except ValueError:
                payload = {"detail": r.text[:200]}
            raise error_from(r.status_code, payload)
        return r.text

    async def post(self, service: str, path: str, body: Any, key: str | None, method: str = "POST") -> Any:
        """A write (POST, or PUT for what replaces a setting), with the form's idempotency key."""
        return await self.call(service, method, path, body=body, key=key)
