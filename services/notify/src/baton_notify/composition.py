"""The composition root: the one place where notify's parts are wired together."""

from __future__ import annotations

import functools
from collections.abc import Sequence

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.contracts import registry
from baton_shared.eventstore.provisioning import js_api
from baton_shared.observability.logging import configure_logging
from baton_shared.privacy import load_master_key
from baton_shared.service.app import create_service_app
from baton_shared.service.parts import Runners, ServiceParts
from baton_shared.service.runtime import ServiceRuntime
from baton_shared.service.settings import BatonSettings, secret_value

from baton_notify.api import routers
from baton_notify.application import WebhookApplication
from baton_notify.deliveries.deliverer import WebhookDeliverer, source_streams
from baton_notify.projections import all_projections
from baton_notify.projections.views import NotifyViews
from baton_notify.settings import NotifySettings
from baton_shared.application import Clock, utc_now

SERVICE = "notify"
PUBLISHED = [cls for cls in registry.types() if cls.service == SERVICE]


def parts(settings: BatonSettings, engine: AsyncEngine, runners: Runners | None = None) -> ServiceParts:
    """Notify's projections (no reactions: deliveries are its own loop): what the service runs,
    and what the ops tool rebuilds and verifies."""
    return ServiceParts(SERVICE, projections=tuple(all_projections()), reactions=())


def create_app(settings: BatonSettings | None = None, clock: Clock = utc_now, run_deliveries: bool = True) -> FastAPI:
    if not isinstance(settings, NotifySettings):
        settings = NotifySettings(**settings.model_dump()) if settings is not None else NotifySettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    runtime = ServiceRuntime(SERVICE, settings, registry, functools.partial(parts, settings))

    async def heads(streams: Sequence[str]) -> dict[str, int]:
        """Each stream's last sequence (0 for one that does not exist yet)."""
        out = {}
        for stream in streams:
            try:
                info = await js_api(runtime.nc, f"STREAM.INFO.{stream}")
                out[stream] = int(info["state"]["last_seq"])
            except Exception as exc:  # noqa: BLE001 - only "not found" means 0
                if "not found" not in str(exc).lower():
                    raise
                out[stream] = 0
        return out

    views = NotifyViews(runtime.engine, runtime.parts.projection("webhooks"))
    master_key = load_master_key(secret_value(settings.master_key), settings.data_dir)
    application = WebhookApplication(
        runtime.store, master_key, heads, lambda types: list(source_streams(list(types), registry)), clock=clock
    )
    deliverer = WebhookDeliverer(runtime.engine, views, application, registry, settings, clock)
    if run_deliveries:
        runtime.run_in_background(deliverer.run_forever)
    app = create_service_app(
        runtime,
        title="Baton notify",
        description=(
            "Signed webhooks (Standard Webhooks) for other systems: every event type they subscribe to, in log order "
            "per stream, at least once, with the event id as the idempotency key; replayable from a position or a "
            "time. Writes answer with the position they appended; pass it as `min_position` to a read to see it."
        ),
        routers=routers,
        published=PUBLISHED,
        consumed=[],
    )
    app.state.application = application
    app.state.views = views
    app.state.heads = heads
    app.state.settings = settings
    app.state.deliverer = deliverer
    return app
