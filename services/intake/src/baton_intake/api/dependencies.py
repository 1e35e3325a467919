"""What API handlers need from the running service."""

from __future__ import annotations

from fastapi import Header, Request

from baton_intake.api.schemas import Position, WriteOut
from baton_intake.application import IntakeApplication, Written


def application(request: Request) -> IntakeApplication:
    return request.app.state.application


def views(request: Request):
    return request.app.state.views


def actor(x_baton_actor: str | None = Header(None, max_length=200, description="Who is acting (until tokens arrive)")) -> str:
    return (x_baton_actor or "api").strip() or "api"


def causation(request: Request) -> str | None:
    """The HTTP call's correlation id (``X-Correlation-Id``, generated when absent)."""
    return getattr(request.state, "correlation_id", None)


def written(result: Written) -> WriteOut:
    return WriteOut(ids=result.ids, position=Position(stream=result.stream, seq=result.position), appended=result.appended)
