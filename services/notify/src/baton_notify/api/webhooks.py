"""Webhook subscriptions: make, list, show, pause, resume, replay, rotate the secret, delete."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Query, Request

from baton_shared.contracts import registry
from baton_shared.domain import NotFound
from baton_shared.service.consistency import read_after_position
from baton_shared.service.http import Page, Position, WriteOut
from baton_shared.service.problems import ProblemException

from baton_notify.api import dependencies as dep
from baton_notify.application import commands as c
from baton_notify.api.schemas import DeliveriesOut, EmptyIn, ReplayIn, WebhookCreated, WebhookIn, WebhookOut
from baton_notify.deliveries.deliverer import source_streams
from baton_notify.domain import AddressRefused, resolve_allowed

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])
Status = Literal["active", "paused", "deleted"]


def created(written, secret: str) -> WebhookCreated:
    return WebhookCreated(
        ids=written.ids,
        position=Position(stream=written.stream, seq=written.position),
        appended=written.appended,
        secret=secret,
    )


@router.post(
    "", status_code=201, response_model=WebhookCreated, summary="Subscribe a URL to events (secret shown once)"
)
async def subscribe(
    body: WebhookIn,
    request: Request,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=dep.webhooks_rule,
) -> WebhookCreated:
    try:
        await resolve_allowed(body.url, request.app.state.settings.webhooks_allow_private)
    except AddressRefused as exc:
        # The deployment's rule (not the URL's form, which the schema checks): 409, nothing appended.
        raise ProblemException(409, "rule-broken", f"url refused: {exc}") from None
    written, secret = await app.subscribe(
        c.SubscribeWebhook(
            url=body.url,
            event_types=tuple(dict.fromkeys(body.event_types)),
            client_id=body.client_id,
            department=body.department,
            **issued,
        )
    )
    return created(written, secret)


@router.get(
    "", response_model=Page[WebhookOut], summary="Webhook subscriptions", dependencies=[read_after_position("webhooks")]
)
async def list_webhooks(
    status: Status | None = Query(None, description="default: all but deleted"),
    limit: int = Query(50, ge=1, le=200),
    offset: int = Query(0, ge=0, le=1_000_000),
    views=Depends(dep.views),
    who=dep.webhooks_rule,
) -> Page:
    items, total = await views.list_webhooks(dep.owner_filter(who), status, limit, offset)
    return Page(items=items, limit=limit, offset=offset, total=total)


@router.get(
    "/{webhook_id}",
    response_model=WebhookOut,
    summary="One webhook subscription",
    dependencies=[read_after_position("webhooks")],
)
async def get_webhook(webhook_id: str, views=Depends(dep.views), who=Depends(dep.webhook_rule)) -> dict:
    found = await views.webhook(webhook_id)
    if found is None:
        raise NotFound(f"webhook {webhook_id} not found")
    return found


@router.get(
    "/{webhook_id}/deliveries",
    response_model=DeliveriesOut,
    summary="Position, lag, last error and parked deliveries",
    dependencies=[read_after_position("webhooks")],
)
async def deliveries(
    webhook_id: str, request: Request, views=Depends(dep.views), who=Depends(dep.webhook_rule)
) -> dict:
    found = await views.webhook(webhook_id)
    if found is None:
        raise NotFound(f"webhook {webhook_id} not found")
    heads = await request.app.state.heads(list(source_streams(found["event_types"], registry)))
    return await views.deliveries(webhook_id, heads)


@router.post("/{webhook_id}/pause", response_model=WriteOut, summary="Stop sending, keeping the position")
async def pause(
    webhook_id: str,
    body: EmptyIn | None = None,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.webhook_rule),
) -> WriteOut:
    return dep.written(await app.pause(c.PauseWebhook(webhook_id=webhook_id, **issued)))


@router.post(
    "/{webhook_id}/resume",
    response_model=WriteOut,
    summary="Send again from where it stopped (a parked delivery first)",
)
async def resume(
    webhook_id: str,
    body: EmptyIn | None = None,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.webhook_rule),
) -> WriteOut:
    return dep.written(await app.resume(c.ResumeWebhook(webhook_id=webhook_id, **issued)))


@router.post("/{webhook_id}/replay", response_model=WriteOut, summary="Send again from a position or a time")
async def replay(
    webhook_id: str,
    body: ReplayIn,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.webhook_rule),
) -> WriteOut:
    positions = body.positions if body.positions is not None else {}
    return dep.written(
        await app.replay(c.ReplayWebhook(webhook_id=webhook_id, positions=positions, since=body.since, **issued))
    )


@router.post("/{webhook_id}/rotate-secret", response_model=WebhookCreated, summary="A new signing secret (shown once)")
async def rotate_secret(
    webhook_id: str,
    body: EmptyIn | None = None,
    app=Depends(dep.application),
    issued=Depends(dep.issued),
    who=Depends(dep.webhook_rule),
) -> WebhookCreated:
    written, secret = await app.rotate_secret(c.RotateWebhookSecret(webhook_id=webhook_id, **issued))
    return created(written, secret)


@router.delete("/{webhook_id}", response_model=WriteOut, summary="End the subscription")
async def delete(
    webhook_id: str, app=Depends(dep.application), issued=Depends(dep.issued), who=Depends(dep.webhook_rule)
) -> WriteOut:
    return dep.written(await app.delete(c.DeleteWebhook(webhook_id=webhook_id, **issued)))
