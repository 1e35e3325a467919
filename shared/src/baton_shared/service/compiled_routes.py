"""Hot routes answered by an owned, plain-ASGI handler built once from their FastAPI declaration.

FastAPI walks a route's dependency tree on every request; for a write command that was
a large share of its CPU (figures in docs/architecture.md). For the routes whose shape
is simple, the tree is read once here, from what the route declares through FastAPI's
public API (``endpoint``, ``dependencies``, ``response_model``, ``Depends``), and a
Starlette route placed ahead of FastAPI's answers them:

- dependencies: ``async def`` functions (or objects with an ``async __call__``, such as
  FastAPI's security schemes), solved in FastAPI's order with its per-request cache;
- parameters: plain ``str`` path parameters, scalar ``Query``/``Header`` parameters,
  ``Request``, and one JSON body that is a pydantic model (optionally ``None``), validated
  with pydantic; errors collected as FastAPI collects them (a dependency whose parameters
  are wrong is not called, the others still are, so a 403 still comes before a 422);
- answers: the response model dumped to JSON by pydantic; validation errors raised as
  FastAPI's ``RequestValidationError``, so the app's one 422 handler answers.

Everything else stays with FastAPI's handler: routes using anything above this list are
not compiled, and a request the compiled route would read differently (a body whose
content type is not ``application/json``) or any request while
``app.dependency_overrides`` is set (tests) falls through to FastAPI's route.
``tests/unit/test_compiled_routes.py`` holds the two to the same answers.
"""

from __future__ import annotations

import inspect
import json
import types
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, params
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute, APIRouter
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope


class NotCompiled(Exception):
    """The route uses something this compiler leaves to FastAPI."""


@dataclass(frozen=True, slots=True)
class _Call:
    """One dependency (or the endpoint): what it takes, its sub-dependencies first."""

    call: Callable[..., Any]
    name: str | None  # the parameter it fills in its parent; None for a route-level dependency
    use_cache: bool
    subs: tuple[_Call, ...]
    path: tuple[str, ...]  # plain ``str`` path parameters
    request: str | None  # the parameter that takes the Request
    fields: tuple[_Field, ...] = ()  # scalar query and header parameters


@dataclass(frozen=True, slots=True)
class _Field:
    """A scalar ``Query(...)`` or ``Header(...)`` parameter, validated by pydantic as FastAPI does."""

    name: str
    where: str  # query | header
    alias: str  # the name in the query string, or the header's (lower case, hyphens)
    adapter: TypeAdapter
    required: bool
    default: Any


@dataclass(frozen=True, slots=True)
class _Body:
    name: str
    adapter: TypeAdapter
    required: bool


def _is_async(call: Callable[..., Any]) -> bool:
    if inspect.isasyncgenfunction(call) or inspect.isgeneratorfunction(call):
        return False
    if inspect.iscoroutinefunction(call):
        return True
    method = getattr(type(call), "__call__", None)  # noqa: B004 - the class's method, not a callability test
    return not inspect.isclass(call) and method is not None and inspect.iscoroutinefunction(method)


def _hints(call: Callable[..., Any]) -> dict[str, Any]:
    target = call if inspect.isfunction(call) or inspect.ismethod(call) else type(call).__call__
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception as exc:  # noqa: BLE001 - an unresolvable annotation: FastAPI decides
        raise NotCompiled(f"annotations of {call!r} do not resolve: {exc}") from exc


def _depends_of(annotation: Any, default: Any) -> tuple[Any, params.Depends | None]:
    if isinstance(default, params.Depends):
        return annotation, default
    if typing.get_origin(annotation) is typing.Annotated:
        inner, *extra = typing.get_args(annotation)
        found = [m for m in extra if isinstance(m, params.Depends)]
        if found:
            return inner, found[-1]
        if any(isinstance(m, params.Param | params.Body) for m in extra):
            raise NotCompiled("an Annotated parameter declaration")
        return inner, None
    return annotation, None


def _model_body(annotation: Any, default: Any) -> bool | None:
    """Whether the parameter is a JSON body model: True required, False optional (``Model | None = None``)."""
    if default is not inspect.Parameter.empty and default is not None:
        return None
    args = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    models = [a for a in args if a is not type(None)] if args else [annotation]
    if len(models) != 1 or not (inspect.isclass(models[0]) and issubclass(models[0], BaseModel)):
        return None
    if default is None:
        return False if type(None) in args else None
    return True


_SCALARS = (str, int, float, bool)


def _scalar(annotation: Any) -> bool:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return all(a is type(None) or _scalar(a) for a in typing.get_args(annotation))
    if typing.get_origin(annotation) is typing.Literal:
        return all(isinstance(a, _SCALARS) for a in typing.get_args(annotation))
    return annotation in _SCALARS


def _field(name: str, annotation: Any, declared: params.Param) -> _Field:
    where = "query" if isinstance(declared, params.Query) else "header"
    if not _scalar(annotation) or type(declared) not in (params.Query, params.Header):
        raise NotCompiled(f"parameter {name}: only scalar Query and Header parameters are compiled")
    alias = name.replace("_", "-") if where == "header" and declared.convert_underscores else name
    if declared.alias not in (None, alias) or declared.validation_alias is not None:  # FastAPI sets a header's
        raise NotCompiled(f"parameter {name} has an alias")
    required = declared.is_required()
    default = None if required else declared.get_default(call_default_factory=True)
    return _Field(name, where, alias, TypeAdapter(typing.Annotated[annotation, declared]), required, default)


def _dependency(depends: params.Depends, annotation: Any, name: str | None, path_names: set[str]) -> _Call:
    if isinstance(depends, params.Security) and depends.scopes:
        raise NotCompiled("security scopes")
    if getattr(depends, "scope", None) is not None or getattr(depends, "max_concurrency", None) is not None:
        raise NotCompiled("a dependency scope or concurrency limit")
    call = depends.dependency if depends.dependency is not None else annotation
    if not _is_async(call):
        raise NotCompiled(f"dependency {getattr(call, '__name__', call)!r} is not an async function")
    return _walk(call, name, depends.use_cache, path_names, body=None)


def _walk(
    call: Callable[..., Any], name: str | None, use_cache: bool, path_names: set[str], body: list[_Body] | None
) -> _Call:
    """``call``'s parameters; ``body`` collects the endpoint's body model (None: no body allowed)."""
    hints = _hints(call)
    subs: list[_Call] = []
    path: list[str] = []
    fields: list[_Field] = []
    request = None
    for parameter in inspect.signature(call).parameters.values():
        if parameter.kind in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
            raise NotCompiled("*args or **kwargs")
        annotation, depends = _depends_of(hints.get(parameter.name, parameter.annotation), parameter.default)
        default = parameter.default
        if depends is not None:
            subs.append(_dependency(depends, annotation, parameter.name, path_names))
        elif inspect.isclass(annotation) and issubclass(annotation, HTTPConnection):
            if annotation not in (Request, HTTPConnection):  # a WebSocket, say
                raise NotCompiled(f"takes {annotation.__name__}")
            request = parameter.name
        elif isinstance(default, params.Query | params.Header):
            fields.append(_field(parameter.name, annotation, default))
        elif isinstance(default, params.Param | params.Body | params.Depends):
            raise NotCompiled(f"parameter {parameter.name} declared with {type(default).__name__}")
        elif parameter.name in path_names and annotation is str and default is inspect.Parameter.empty:
            path.append(parameter.name)
        elif body is not None and not body and (required := _model_body(annotation, default)) is not None:
            body.append(_Body(parameter.name, TypeAdapter(annotation), required))
        else:
            raise NotCompiled(f"parameter {parameter.name}")
    return _Call(call, name, use_cache, tuple(subs), tuple(path), request, tuple(fields))


async def _solve(step: _Call, request: Request, cache: dict[Any, Any]) -> tuple[dict[str, Any], list[dict]]:
    """The values ``step.call`` takes and the errors of its parameters, as FastAPI solves them:
    sub-dependencies first, once per request when cached; a sub-dependency whose parameters
    are wrong is not called, its errors are kept and the others are still solved."""
    values: dict[str, Any] = {}
    errors: list[dict] = []
    for sub in step.subs:
        if sub.use_cache and sub.call in cache:
            solved = cache[sub.call]
        else:
            sub_values, sub_errors = await _solve(sub, request, cache)
            if sub_errors:
                errors.extend(sub_errors)
                continue
            solved = await sub.call(**sub_values)
            cache.setdefault(sub.call, solved)
        if sub.name is not None:
            values[sub.name] = solved
    for field in step.fields:
        raw = (request.query_params if field.where == "query" else request.headers).get(field.alias)
        if raw is None:
            if field.required:
                errors.append(
                    {"type": "missing", "loc": (field.where, field.alias), "msg": "Field required", "input": None}
                )
            else:
                values[field.name] = field.default
            continue
        try:
            values[field.name] = field.adapter.validate_python(raw)
        except ValidationError as exc:
            errors.extend({**e, "loc": (field.where, field.alias, *e["loc"])} for e in exc.errors(include_url=False))
    if step.path:
        path_params = request.path_params
        for name in step.path:
            values[name] = path_params[name]
    if step.request:
        values[step.request] = request
    return values, errors


async def _read_json(request: Request) -> Any:
    """The body as FastAPI reads a JSON one: None when empty, a clear 422 when not JSON."""
    raw = await request.body()
    if not raw:
        return None
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise RequestValidationError(
            [
                {
                    "type": "json_invalid",
                    "loc": ("body", exc.pos),
                    "msg": "JSON decode error",
                    "input": {},
                    "ctx": {"error": exc.msg},
                }
            ],
            body=exc.doc,
        ) from exc
    except ValueError as exc:  # not UTF-8: FastAPI's answer to an unreadable body
        raise HTTPException(status_code=400, detail="There was an error parsing the body") from exc


def _validate_body(body: _Body, value: Any) -> tuple[Any, list[dict[str, Any]]]:
    if value is None:
        if body.required:
            return None, [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        return None, []
    try:
        return body.adapter.validate_python(value, from_attributes=True), []  # as FastAPI validates
    except ValidationError as exc:
        return None, [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]


def compile_route(route: APIRoute, dependencies: Sequence[params.Depends] = ()) -> Callable[[Request], Any]:
    """The route's request handler, compiled; ``dependencies`` come before the route's own (an
    ``include_router``'s). Raises ``NotCompiled`` when FastAPI must keep the route."""
    if not inspect.iscoroutinefunction(route.endpoint):
        raise NotCompiled("the endpoint is not a coroutine function")
    path_names = set(route.param_convertors)
    if any(type(c).__name__ != "StringConvertor" for c in route.param_convertors.values()):
        raise NotCompiled("a typed path converter")
    body: list[_Body] = []
    endpoint = _walk(route.endpoint, None, True, path_names, body)
    leading = tuple(_dependency(d, None, None, path_names) for d in (*dependencies, *route.dependencies))
    plan = _Call(route.endpoint, None, True, leading + endpoint.subs, endpoint.path, endpoint.request, endpoint.fields)
    wanted = body[0] if body else None
    call = route.endpoint
    if route.response_model is None:
        raise NotCompiled("no response model")
    if not isinstance(route.response_class, DefaultPlaceholder):
        raise NotCompiled("a response class of its own")
    answer = TypeAdapter(route.response_model)
    dump = {
        "include": route.response_model_include,
        "exclude": route.response_model_exclude,
        "by_alias": route.response_model_by_alias,
        "exclude_unset": route.response_model_exclude_unset,
        "exclude_defaults": route.response_model_exclude_defaults,
        "exclude_none": route.response_model_exclude_none,
    }
    status_code = route.status_code or 200
    if status_code < 200 or status_code in (204, 205, 304):
        raise NotCompiled("an answer without a body")

    async def handle(request: Request) -> Response:
        raw_body = await _read_json(request) if wanted else None
        values, errors = await _solve(plan, request, {})
        if wanted:
            values[wanted.name], body_errors = _validate_body(wanted, raw_body)
            errors += body_errors
        if errors:
            raise RequestValidationError(errors, body=raw_body)
        result = await call(**values)
        if isinstance(result, Response):
            return result
        content = answer.dump_json(answer.validate_python(result, from_attributes=True), **dump)
        return Response(content, status_code=status_code, media_type="application/json")

    return handle


class CompiledRoute(Route):
    """A compiled route placed ahead of FastAPI's: it steps aside (no match) for what FastAPI
    must answer itself."""

    def __init__(self, route: APIRoute, handle: Callable[[Request], Any], app: FastAPI, reads_body: bool) -> None:
        super().__init__(route.path, handle, methods=list(route.methods), name=route.name, include_in_schema=False)
        self.methods = set(route.methods)  # Starlette would add HEAD to a GET; FastAPI's route does not
        self.declared = route
        self.fastapi = app
        self.reads_body = reads_body

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if self.fastapi.dependency_overrides:
            return Match.NONE, {}
        if self.reads_body and scope.get("method") in self.methods:
            content_type = next((v for k, v in scope.get("headers", ()) if k == b"content-type"), None)
            if content_type != b"application/json":
                return Match.NONE, {}  # read as FastAPI reads it (strict content type, forms, ...)
        match, child = super().matches(scope)
        if match is not Match.NONE:
            child["route"] = self.declared
        return match, child


def compile_routes(
    app: FastAPI, routers: Iterable[APIRouter], dependencies: Sequence[params.Depends] = ()
) -> dict[str, str]:
    """Put a compiled route ahead of FastAPI's for every route of ``routers`` (included with
    ``dependencies``) that can be compiled; returns the others with the reason."""
    kept: dict[str, str] = {}
    compiled: list[CompiledRoute] = []
    for router in routers:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            try:
                handle = compile_route(route, dependencies)
            except NotCompiled as exc:
                kept[f"{','.join(sorted(route.methods))} {route.path}"] = str(exc)
                continue
            compiled.append(CompiledRoute(route, handle, app, reads_body=any(True for _ in _body_names(route))))
    app.router.routes[0:0] = compiled
    return kept


def _body_names(route: APIRoute) -> Iterable[str]:
    hints = _hints(route.endpoint)
    for parameter in inspect.signature(route.endpoint).parameters.values():
        annotation, depends = _depends_of(hints.get(parameter.name, parameter.annotation), parameter.default)
        if depends is None and _model_body(annotation, parameter.default) is not None:
            yield parameter.name
