"""Route handlers compiled once from their FastAPI declarations.

FastAPI solves a route's dependencies by walking its dependency tree on every
request: per dependency a recursive call, a fresh values dict, generator checks
by ``inspect``, every parameter kind looked at; then the content type is parsed
with ``email.message``. Measured in-process for a delivery write (token, access
rule, application, actor, causation, body): 173 µs per request through FastAPI,
16 µs for the same work as a plain Starlette endpoint; that difference was about
15 % of a write command's CPU.

``compile_routes`` walks each route's tree once and keeps what a request needs:
the dependencies in FastAPI's order, which parameters each one takes, whether it
is cached. Per request it does what FastAPI's handler does, with FastAPI's own
functions for everything that decides an answer: parameter and body validation
(``request_params_to_args``, ``request_body_to_args``), the response model
(``serialize_response``), the errors (``RequestValidationError``, so the same
422 handler answers). The ``APIRoute`` stays where it was (matching, OpenAPI,
``scope["route"]``); only its ASGI app is replaced.

What is not compiled keeps FastAPI's handler: dependencies with ``yield`` or
plain (sync) functions, form bodies, ``Response``/``BackgroundTasks``/
``SecurityScopes``/WebSocket parameters. While ``app.dependency_overrides`` is
not empty (tests), every request goes to FastAPI's handler.
``tests/unit/test_compiled_routes.py`` holds the two to the same answers.
"""

from __future__ import annotations

import email.message
import json
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI
from fastapi._compat import _normalize_errors
from fastapi.datastructures import DefaultPlaceholder
from fastapi.dependencies.models import Dependant
from fastapi.dependencies.utils import (
    is_async_gen_callable,
    is_coroutine_callable,
    is_gen_callable,
    request_body_to_args,
    request_params_to_args,
)
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, serialize_response
from fastapi.utils import is_body_allowed_for_status_code
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class _Step:
    """One dependant: what it takes, in FastAPI's order (sub-dependencies first)."""

    call: Any
    name: str | None
    cache_key: Any
    use_cache: bool
    dependencies: tuple[_Step, ...]
    plain_path: tuple[tuple[str, str], ...]  # (name, alias) of path parameters that are plain ``str``
    params: tuple[tuple[str, list], ...]  # (where: path|query|header|cookie, fields) validated by FastAPI
    body_params: list
    request_param_name: str | None


class NotCompiled(Exception):
    """The route uses something this compiler leaves to FastAPI."""


def _step(dependant: Dependant, top: bool) -> _Step:
    if dependant.response_param_name or dependant.background_tasks_param_name:
        raise NotCompiled("takes the Response or BackgroundTasks")
    if dependant.security_scopes_param_name or dependant.websocket_param_name:
        raise NotCompiled("takes SecurityScopes or a WebSocket")
    if not top:
        call = dependant.call
        if is_gen_callable(call) or is_async_gen_callable(call):
            raise NotCompiled(f"dependency {dependant.name or call!r} uses yield")
        if not is_coroutine_callable(call):
            raise NotCompiled(f"dependency {dependant.name or call!r} is not a coroutine function")
    request_name = dependant.request_param_name or dependant.http_connection_param_name
    if dependant.request_param_name and dependant.http_connection_param_name:
        raise NotCompiled("takes both Request and HTTPConnection")
    plain = all(_plain_str(f) for f in dependant.path_params)
    params = tuple(
        (where, fields)
        for where, fields in (("path", [] if plain else dependant.path_params), ("query", dependant.query_params),
                              ("header", dependant.header_params), ("cookie", dependant.cookie_params))
        if fields
    )
    return _Step(
        call=dependant.call,
        name=dependant.name,
        cache_key=dependant.cache_key,
        use_cache=dependant.use_cache,
        dependencies=tuple(_step(d, top=False) for d in dependant.dependencies),
        plain_path=tuple((f.name, f.alias) for f in dependant.path_params) if plain else (),
        params=params,
        body_params=dependant.body_params,
        request_param_name=request_name,
    )


def _plain_str(field: Any) -> bool:
    """A path parameter declared ``name: str`` with no constraint: its value is the path's
    text as it is (what FastAPI's validation would return), so it needs no validation."""
    return field.type_ is str and field.required and not field.field_info.metadata


def _received(request: Request, where: str) -> Any:
    if where == "path":
        return request.path_params
    if where == "query":
        return request.query_params
    if where == "header":
        return request.headers
    return request.cookies


async def _solve(step: _Step, request: Request, body: Any, cache: dict, embed: bool) -> tuple[dict, list]:
    """``solve_dependencies`` for a compiled step: the same order, caching and errors."""
    values: dict[str, Any] = {}
    errors: list = []
    for sub in step.dependencies:
        if sub.use_cache and sub.cache_key in cache:
            # Solved before in this request, without errors (only a success is cached);
            # FastAPI solves the sub-tree again to the same values and throws them away.
            if sub.name is not None:
                values[sub.name] = cache[sub.cache_key]
            continue
        sub_values, sub_errors = await _solve(sub, request, body, cache, embed)
        if sub_errors:
            errors.extend(sub_errors)
            continue
        solved = await sub.call(**sub_values)
        if sub.name is not None:
            values[sub.name] = solved
        if sub.cache_key not in cache:
            cache[sub.cache_key] = solved
    if step.plain_path:
        path_params = request.path_params
        for name, alias in step.plain_path:
            values[name] = path_params[alias]
    for where, fields in step.params:
        found, wrong = request_params_to_args(fields, _received(request, where))
        values.update(found)
        errors += wrong
    if step.body_params:
        found, wrong = await request_body_to_args(body_fields=step.body_params, received_body=body,
                                                  embed_body_fields=embed)
        values.update(found)
        errors.extend(wrong)
    if step.request_param_name:
        values[step.request_param_name] = request
    return values, errors


def _is_json(content_type: str) -> bool:
    if content_type == "application/json":
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


async def _read_body(request: Request) -> Any:
    """The body as FastAPI's handler reads it: JSON when the content type says so (or
    says nothing), else the bytes (which the body model then refuses)."""
    try:
        raw = await request.body()
        if not raw:
            return None
        content_type = request.headers.get("content-type")
        if content_type and not _is_json(content_type):
            return raw
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error", "input": {},
              "ctx": {"error": exc.msg}}],
            body=exc.doc,
        ) from exc
    except HTTPException:
        raise
    except Exception as exc:  # noqa: BLE001 - FastAPI's answer to an unreadable body
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def compile_route(route: APIRoute) -> ASGIApp:
    """The route's handler, compiled; raises ``NotCompiled`` when FastAPI must keep it."""
    if route.body_field is not None and route.body_field.field_info.__class__.__name__ in ("Form", "File"):
        raise NotCompiled("form body")
    if not is_coroutine_callable(route.dependant.call):
        raise NotCompiled("the endpoint is not a coroutine function")
    plan = _step(route.dependant, top=True)
    endpoint = route.dependant.call
    reads_body = route.body_field is not None
    embed = route._embed_body_fields  # noqa: SLF001 - what FastAPI computed for this route
    response_class = route.response_class.value if isinstance(route.response_class, DefaultPlaceholder) else route.response_class
    serializing = {  # the route's response model settings, as FastAPI's handler passes them
        "field": route.secure_cloned_response_field,
        "include": route.response_model_include,
        "exclude": route.response_model_exclude,
        "by_alias": route.response_model_by_alias,
        "exclude_unset": route.response_model_exclude_unset,
        "exclude_defaults": route.response_model_exclude_defaults,
        "exclude_none": route.response_model_exclude_none,
        "is_coroutine": True,
    }
    status_code = route.status_code
    fastapi_handler = route.app

    async def handle(request: Request) -> Response:
        body = await _read_body(request) if reads_body else None
        values, errors = await _solve(plan, request, body, {}, embed)
        if errors:
            raise RequestValidationError(_normalize_errors(errors), body=body)
        raw = await endpoint(**values)
        if isinstance(raw, Response):
            return raw
        content = await serialize_response(response_content=raw, **serializing)
        response = response_class(content, status_code=status_code) if status_code else response_class(content)
        if not is_body_allowed_for_status_code(response.status_code):
            response.body = b""
        return response

    compiled = request_response(handle)
    overrides_of = route.dependency_overrides_provider

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if overrides_of is not None and overrides_of.dependency_overrides:
            await fastapi_handler(scope, receive, send)
        else:
            await compiled(scope, receive, send)

    return app


def compile_routes(app: FastAPI) -> dict[str, str]:
    """Compile every API route that can be; returns the others with the reason."""
    kept: dict[str, str] = {}
    for route in app.routes:
        if not isinstance(route, APIRoute):
            continue
        try:
            route.app = compile_route(route)
        except NotCompiled as exc:
            kept[f"{','.join(sorted(route.methods))} {route.path}"] = str(exc)
    return kept
