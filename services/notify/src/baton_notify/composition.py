"""The composition root: the one place where notify's parts are wired together."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import timedelta

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
from baton_notify.application.notices import NoticeApplication
from baton_notify.notices.mail import Mailer
from baton_notify.notices.outbox import Outbox
from baton_notify.notices.people import Directory
from baton_notify.projections.notice_views import NoticeViews
from baton_notify.reactions import NoticesOnDelivery, NoticesOnFollowup
from baton_notify.scheduler import MorningDigest
from baton_notify.deliveries.deliverer import WebhookDeliverer, source_streams
from baton_notify.projections import all_projections
from baton_notify.projections.views import NotifyViews
from baton_notify.settings import NotifySettings
from baton_shared.application import Clock, utc_now

SERVICE = "notify"
PUBLISHED = [cls for cls in registry.types() if cls.service == SERVICE]
# What notices are queued from, and what they name (webhooks read any type, as subscribed).
CONSUMED = [
    registry.get(name)
    for name in (
        *NoticesOnDelivery.event_types,
        *NoticesOnFollowup.event_types,
        "ClientRegistered",
        "AccountManagerAssigned",
        "FollowUpScheduled",
        "FollowUpRescheduled",
        "FollowUpClosed",
        "RecoveryClosed",
        "ComplaintReopened",
        "ComplaintResolved",
    )
]


def notify_settings(settings: BatonSettings | None) -> NotifySettings:
    if isinstance(settings, NotifySettings):
        return settings
    return NotifySettings(**(settings.model_dump() if settings else {}))


def parts(
    settings: BatonSettings,
    engine: AsyncEngine,
    runners: Runners | None = None,
    *,
    clock: Clock = utc_now,
    directory: Directory | None = None,
) -> ServiceParts:
    """Notify's projections and the reactions that queue notices (webhook deliveries are their
    own loop): what the service runs, and what the ops tool rebuilds, verifies and retries with."""
    settings = notify_settings(settings)
    projections = tuple(all_projections())
    by_name = {p.name: p for p in projections}
    views = NoticeViews(engine, *(by_name[n] for n in ("notices", "notice_preferences", "accounts", "agenda")))
    directory = directory or Directory.from_settings(settings)
    told = (directory, views, timedelta(seconds=settings.notices_horizon_seconds), settings.notices_console_url, clock)
    reactions = (NoticesOnDelivery(*told), NoticesOnFollowup(*told))
    return ServiceParts(SERVICE, projections=projections, reactions=reactions, read_models=views)


def create_app(
    settings: BatonSettings | None = None, clock: Clock = utc_now, run_deliveries: bool = True, mailer=None
) -> FastAPI:
    settings = notify_settings(settings)
    configure_logging(SERVICE, settings.log_level, settings.log_format)
    directory = Directory.from_settings(settings)
    runtime = ServiceRuntime(
        SERVICE, settings, registry, functools.partial(parts, settings, clock=clock, directory=directory)
    )

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
    notice_views: NoticeViews = runtime.parts.read_models
    notices = NoticeApplication(runtime.store, clock=clock)
    mailer = mailer or Mailer(settings)
    outbox = Outbox(notices, notice_views, directory, mailer, settings, clock)
    morning = MorningDigest(notices, notice_views, directory, settings, clock)
    if run_deliveries:
        runtime.run_in_background(deliverer.run_forever)
        if mailer.configured:  # without a mail server notices wait (and pass the horizon)
            runtime.run_in_background(outbox.run_forever)
            runtime.run_in_background(morning.run_forever)
    app = create_service_app(
        runtime,
        title="Baton notify",
        description=(
            "Signed webhooks (Standard Webhooks) for other systems: every event type they subscribe to, in log order "
            "per stream, at least once, with the event id as the idempotency key; replayable from a position or a "
            "time. E-mail notices for people (new work for a department; overdue, blocked and ready work, "
            "recoveries and complaints for an account manager; a morning agenda digest), each kind turned off per "
            "person. Writes answer with the position they appended; pass it as `min_position` to a read to see it."
        ),
        routers=routers,
        published=PUBLISHED,
        consumed=CONSUMED,
    )
    app.state.application = application
    app.state.views = views
    app.state.heads = heads
    app.state.settings = settings
    app.state.deliverer = deliverer
    app.state.notices = notices
    app.state.notice_views = notice_views
    app.state.directory = directory
    app.state.outbox = outbox
    app.state.morning_digest = morning
    return app
