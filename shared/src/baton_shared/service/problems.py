"""Every error answer is an RFC 9457 problem detail, one shape everywhere.

``application/problem+json`` with ``type`` (a ``urn:baton:problem:<kind>`` naming what
went wrong, stable for programs), ``title`` (the kind in words), ``status`` and
``detail`` (what is wrong here, for people). An invalid input (422) adds ``errors``:
one ``{loc, msg, type}`` per field at fault, ``loc`` the path to it
(``["body", "contacts", 0, "email"]``, ``["query", "limit"]``, ``["header", ...]``).
Other members may be added by a kind (a refused contact's ``refusal``, an
unconfirmed append's ids): the schema allows them.

The exception handlers of ``create_service_app``, the request guard in front of the
app (``baton_shared.idempotency``) and the compiled routes (which raise the same
exceptions) all answer through ``problem``; ``document`` writes the answers each
operation can give into the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException
from starlette.responses import Response

MEDIA_TYPE = "application/problem+json"

TITLES = {
    "bad-request": "Bad request",
    "unauthenticated": "Missing or unknown token",
    "forbidden": "Not allowed",
    "not-found": "Not found",
    "method-not-allowed": "Method not allowed",
    "rule-broken": "Refused by a business rule",
    "concurrent-change": "Concurrent change",
    "too-large": "Request body too large",
    "invalid-input": "Invalid input",
    "idempotency-key-reused": "Idempotency-Key used for another request",
    "position-beyond-log": "Position beyond the log",
    "not-yet-projected": "Not yet projected",
    "log-unavailable": "Event log unavailable",
    "log-behind": "Event log replica behind its leader",
    "outcome-unknown": "Write not confirmed: it may be stored or not",
    "database-unavailable": "Database unavailable",
    "forgetting-unavailable": "Record of forgotten clients unwritable",
    "internal-error": "Internal error",
}
_BY_STATUS = {
    400: "bad-request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "rule-broken",
    413: "too-large",
    422: "invalid-input",
    503: "database-unavailable",
}


def type_uri(kind: str) -> str:
    return f"urn:baton:problem:{kind}"


class FieldError(BaseModel):
    """One field at fault in an invalid input."""

    loc: list[str | int] = Field(description="where: `body`, `query`, `path` or `header`, then the field's path")
    msg: str = Field(description="what is wrong with it")
    type: str = Field(description="the kind of error, e.g. `missing`, `string_too_long`")


class Problem(BaseModel):
    """An error answer (RFC 9457); kinds may add members (``additionalProperties``)."""

    model_config = ConfigDict(extra="allow", json_schema_extra={"additionalProperties": True})

    type: str = Field(description="`urn:baton:problem:<kind>`, e.g. `urn:baton:problem:not-found`")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str = Field(description="what is wrong, in words")


class InvalidInput(Problem):
    """A 422: the input is not what the operation takes; ``errors`` names each field."""

    errors: list[FieldError] = Field(description="each field at fault (empty when no single field is)")


class ProblemException(HTTPException):
    """An ``HTTPException`` of a given kind, with extension members."""

    def __init__(
        self, status_code: int, kind: str, detail: str, headers: dict[str, str] | None = None, **members: Any
    ) -> None:
        super().__init__(status_code=status_code, detail=detail, headers=headers)
        self.kind = kind
        self.members = members


def body(status: int, detail: str, kind: str | None = None, **members: Any) -> dict[str, Any]:
    kind = kind or _BY_STATUS.get(status, "internal-error" if status >= 500 else "bad-request")
    if status == 422:
        members.setdefault("errors", [])
    return {"type": type_uri(kind), "title": TITLES[kind], "status": status, "detail": detail, **members}


def encoded(status: int, detail: str, kind: str | None = None, **members: Any) -> bytes:
    return orjson.dumps(body(status, detail, kind, **members))


def problem(
    status: int, detail: str, kind: str | None = None, headers: dict[str, str] | None = None, **members: Any
) -> Response:
    """The answer: ``application/problem+json`` of the kind (by default the status's)."""
    return Response(
        encoded(status, detail, kind, **members), status_code=status, headers=headers, media_type=MEDIA_TYPE
    )


def from_http_exception(exc: HTTPException) -> Response:
    kind = getattr(exc, "kind", None)
    members = getattr(exc, "members", {})
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if exc.status_code < 400 or exc.status_code in (204, 304):
        return Response(status_code=exc.status_code, headers=exc.headers)
    return problem(exc.status_code, detail, kind, headers=exc.headers, **members)


def field_errors(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's validation errors as ``{loc, msg, type}`` (the offending input is not echoed)."""
    return [
        {
            "loc": [p if isinstance(p, int) else str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "value_error")),
        }
        for e in errors
    ]


def summary(errors: list[dict[str, Any]]) -> str:
    """The field errors in one line: ``body.name: String should have at most 200 characters; ...``."""
    parts = [f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in errors[:10]]
    more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
    return "invalid input: " + "; ".join(parts) + more


# --- the OpenAPI document --------------------------------------------------------------

WRITES = frozenset({"post", "put", "patch", "delete"})
_SAYS = {
    400: "The request cannot be read",
    401: "No bearer token, or an unknown one",
    403: "The token's role may not do this",
    404: "Unknown id",
    409: "A business rule or a concurrent change refused it (nothing was appended), or a `min_position` beyond "
    "the log's last sequence",
    413: "Request body over the limit; nothing was done",
    422: "Invalid input (`errors` names each field), or an `Idempotency-Key` used for another request",
    503: "The event log or the database is unavailable, or the projection did not reach `min_position` in time "
    "(`Retry-After`); nothing was appended",
}


def answers(method: str, path: str, reads_after_position: bool = False) -> list[int]:
    """The error statuses an operation can answer."""
    statuses = [422]  # a NUL in the path or the query, everywhere
    if path.startswith("/v1") or path == "/metrics":
        statuses += [401, 403]
    if path.startswith("/v1"):
        statuses += [503]
        if "{" in path:
            statuses += [404]
        if method in WRITES or reads_after_position:
            statuses += [409]
        if method in ("post", "put", "patch"):
            statuses += [400, 413]
    return sorted(set(statuses))


def _schemas() -> dict[str, Any]:
    found = InvalidInput.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = found.pop("$defs", {})
    return {
        **defs,
        "InvalidInput": found,
        "Problem": Problem.model_json_schema(ref_template="#/components/schemas/{model}"),
    }


def document(app: FastAPI) -> None:
    """Write into the app's OpenAPI document the problems each operation can answer
    (replacing FastAPI's own 422 schema)."""
    original = app.openapi

    def openapi() -> dict:
        schema = original()  # cached by FastAPI; what follows gives the same result again
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.update(_schemas())
        for name in ("HTTPValidationError", "ValidationError"):
            components.pop(name, None)
        for path, operations in schema.get("paths", {}).items():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                waits = any(p.get("name") == "min_position" for p in operation.get("parameters", []))
                for status in answers(method, path, waits):
                    if path == "/health" and status == 503:
                        continue  # the health body itself, declared by the route
                    model = "InvalidInput" if status == 422 else "Problem"
                    responses[str(status)] = {
                        "description": _SAYS[status],
                        "content": {MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{model}"}}},
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi
