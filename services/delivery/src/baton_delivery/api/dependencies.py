"""What delivery's API handlers need from the running service."""

from __future__ import annotations

from fastapi import Request

from baton_shared.service.http import actor, causation, written

from baton_delivery.application import DeliveryApplication

__all__ = ["actor", "application", "causation", "today", "views", "written"]


async def application(request: Request) -> DeliveryApplication:
    return request.app.state.application


async def views(request: Request):
    return request.app.state.views


async def today(request: Request):
    return request.app.state.application.clock().date()
