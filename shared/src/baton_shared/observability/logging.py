"""Structured logs (JSON by default) that carry the correlation id.

The correlation id is bound in a context variable by the HTTP middleware and by
the consumers for the event they handle, so every line logged meanwhile has it.
"""

from __future__ import annotations

import logging
import sys

import structlog

_configured = False


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    global _configured
    renderer = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_CurrentStderrFactory(),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    if not _configured:
        logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s %(message)s")
        _configured = True


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write, not at configuration:
    a caller that swaps stderr for a while (a CLI runner, a test) must not leave the
    logger holding a closed file."""

    def msg(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    log = debug = info = warn = warning = err = error = critical = exception = fatal = failure = msg


class _CurrentStderrFactory:
    def __call__(self, *args: object) -> _CurrentStderr:
        return _CurrentStderr()


def get_logger(name: str = "baton") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
