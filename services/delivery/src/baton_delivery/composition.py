"""The composition root: the one place where delivery's parts are wired together."""

from __future__ import annotations

import functools

from baton_shared.contracts import intake as intake_contracts
from baton_shared.contracts import registry
from baton_shared.service.access import looked_up_again
from baton_shared.service.app import create_service_app
from baton_shared.observability.logging import configure_logging
from baton_shared.service.parts import Runners, ServiceParts
from baton_shared.service.runtime import ServiceRuntime
from baton_shared.service.settings import BatonSettings
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine

from baton_delivery.api import routers
from baton_delivery.application import DeliveryApplication
from baton_delivery.application.delivery import Clock, utc_now
from baton_delivery.reactions import FollowIntakeRequests
from baton_delivery.projections import all_projections
from baton_delivery.projections.views import DeliveryViews
from baton_delivery.scheduler import OverdueScheduler

SERVICE = "delivery"
PUBLISHED = [cls for cls in registry.types() if cls.service == SERVICE]
CONSUMED = [
    intake_contracts.HandoffRequested,
    intake_contracts.ChangeRequested,
    intake_contracts.RequestCancelled,
    intake_contracts.ClientRegistered,
    intake_contracts.AccountManagerAssigned,
]


def parts(settings: BatonSettings, engine: AsyncEngine, runners: Runners | None = None) -> ServiceParts:
    """Delivery's projections and reactions on ``engine``: what the service runs, and what the
    ops tool rebuilds, verifies and retries with (``runners`` unused: no reaction waits)."""
    return ServiceParts(
        SERVICE,
        projections=tuple(all_projections()),
        reactions=(FollowIntakeRequests(),),
    )


class CaughtUpDirectory:
    """Which request a work order belongs to, asked again once the work orders caught up: a
    command on a work order opened a moment ago (on any replica) is not answered 404."""

    def __init__(self, views: DeliveryViews, runtime: ServiceRuntime) -> None:
        self.views, self.runtime = views, runtime

    async def request_of(self, work_order_id: str) -> str | None:
        return await looked_up_again(self.runtime, ("work_orders",), lambda: self.views.request_of(work_order_id))


def create_app(settings: BatonSettings | None = None, clock: Clock = utc_now, run_scheduler: bool = True) -> FastAPI:
    settings = settings or BatonSettings()
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    runtime = ServiceRuntime(SERVICE, settings, registry, functools.partial(parts, settings))
    views = DeliveryViews(
        runtime.engine,
        *map(runtime.parts.projection, ("work_orders", "request_deliveries", "client_managers", "own_events")),
    )
    application = DeliveryApplication(runtime.store, CaughtUpDirectory(views, runtime), clock=clock)
    scheduler = OverdueScheduler(application, views, settings.overdue_check_seconds)
    if run_scheduler:
        runtime.run_in_background(scheduler.run_forever)
    app = create_service_app(
        runtime,
        title="Baton delivery",
        description=(
            "Department work orders with deadlines, client changes, handover, acceptance and rework. "
            "Work orders open from intake's handoffs (events, never HTTP calls). Writes answer with the "
            "position they appended; pass it as `min_position` to a read to see your write."
        ),
        routers=routers,
        published=PUBLISHED,
        consumed=CONSUMED,
    )
    app.state.application = application
    app.state.views = views
    app.state.scheduler = scheduler
    return app
