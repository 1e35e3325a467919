"""Run the console: ``baton-console`` or ``python -m baton_console``."""

from __future__ import annotations

import uvicorn

from baton_console.app import create_app
from baton_console.settings import ConsoleSettings


def main() -> None:
    settings = ConsoleSettings()
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level=settings.log_level.lower(),
        access_log=False,  # the access log would carry nothing secret, but keep it like the services
        timeout_graceful_shutdown=10,
    )


if __name__ == "__main__":
    main()
