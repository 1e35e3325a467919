"""Running a service's app with uvicorn: what every service's ``__main__`` does.

``python -m baton_<service>`` serves; ``python -m baton_<service> migrate [--check]``
brings its database schema to the code's head (the compose one-shot step) and exits.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import uvicorn
from fastapi import FastAPI

from baton_shared.service.garbage_collection import tune_garbage_collection
from baton_shared.service.settings import BatonSettings, settings_or_exit


def serve(service: str, create_app: Callable[[BatonSettings], FastAPI]) -> None:
    """Serve ``service`` on its host and port from the ``BATON_`` settings, until SIGINT/SIGTERM."""
    args = sys.argv[1:]
    if args and args[0] == "migrate":
        from baton_shared.service.migrations import migrate_main

        sys.exit(migrate_main(service, args[1:]))
    if args:
        print(f"usage: python -m baton_{service} [migrate [--check]]  (unknown: {' '.join(args)})", file=sys.stderr)
        sys.exit(2)
    settings = settings_or_exit(service)
    tune_garbage_collection()  # full collections stalled every request for 100+ ms every few seconds
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.port_for(service),
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's lines go through the service's logging (service/logging.py): one format
        access_log=False,
        timeout_graceful_shutdown=10,
    )
