"""Run delivery: ``baton-delivery`` or ``python -m baton_delivery``."""

from __future__ import annotations

import uvicorn

from baton_shared.service.settings import BatonSettings

from baton_delivery.composition import SERVICE, create_app


def main() -> None:
    settings = BatonSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.port_for(SERVICE),
        log_level=settings.log_level.lower(),
        access_log=False,
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
