"""What notify's API handlers need from the running service, and who may call them.

admin all; ops reads; an ``integration`` token its own webhooks (it makes them, it owns them).
"""

from __future__ import annotations

from fastapi import Depends, Request

from baton_shared.domain import NotFound
from baton_shared.service.access import (
    INTEGRATION,
    Identity,
    access_rule,
    admin_or_ops_read,
    authenticated,
    forbidden,
    known,
    roles,
)
from baton_shared.service.http import issued, written

__all__ = ["application", "issued", "owner_filter", "views", "webhook_rule", "webhooks_rule", "written"]


async def application(request: Request):
    return request.app.state.application


async def views(request: Request):
    return request.app.state.views


webhooks_rule = roles(INTEGRATION, what="manage webhooks")


def owner_filter(who: Identity) -> str | None:
    """An integration sees its own webhooks only."""
    return who.name if who.role == INTEGRATION else None


@access_rule
async def webhook_rule(webhook_id: str, request: Request, who: Identity = Depends(authenticated)) -> Identity:
    if admin_or_ops_read(request, who):
        return who
    if who.role != INTEGRATION:
        raise forbidden(who, f"act on webhook {webhook_id}")
    views_ = request.app.state.views
    webhook = await known(request, lambda: views_.webhook(webhook_id), ("webhooks",))
    if webhook is None:
        raise NotFound(f"webhook {webhook_id} not found")
    if webhook["owner"] != who.name:
        raise forbidden(who, f"act on webhook {webhook_id}: another integration's")
    return who
