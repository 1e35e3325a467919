"""What follow-up's API handlers need from the running service."""

from __future__ import annotations

from fastapi import Request

from baton_shared.service.http import actor, causation, written

from baton_followup.application import FollowupApplication

__all__ = ["actor", "application", "causation", "now", "views", "written"]


def application(request: Request) -> FollowupApplication:
    return request.app.state.application


def views(request: Request):
    return request.app.state.views


def now(request: Request):
    return request.app.state.application.clock()
