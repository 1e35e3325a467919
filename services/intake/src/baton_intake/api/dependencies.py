"""What intake's API handlers need from the running service."""

from __future__ import annotations

from fastapi import Request

from baton_shared.service.http import actor, causation, written

from baton_intake.application import IntakeApplication

__all__ = ["actor", "application", "causation", "views", "written"]


async def application(request: Request) -> IntakeApplication:
    return request.app.state.application


async def views(request: Request):
    return request.app.state.views
