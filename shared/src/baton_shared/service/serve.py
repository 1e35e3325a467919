"""Running a service's app with uvicorn: what every service's ``__main__`` does."""

from __future__ import annotations

from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from baton_shared.service.settings import BatonSettings


def serve(service: str, create_app: Callable[[BatonSettings], FastAPI]) -> None:
    """Serve ``service`` on its host and port from the ``BATON_`` settings, until SIGINT/SIGTERM."""
    settings = BatonSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.port_for(service),
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
    )
