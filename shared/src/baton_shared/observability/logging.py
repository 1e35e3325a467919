"""Structured logs (JSON by default) that carry the correlation id.

The correlation id is bound in a context variable by the HTTP middleware and by
the consumers for the event they handle, so every line logged meanwhile has it.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import orjson
import structlog

# Libraries whose INFO lines belong in a service's log (the rest log at WARNING and up).
_LIBRARIES_AT_SERVICE_LEVEL = ("uvicorn", "alembic")


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    renderer = (
        structlog.processors.JSONRenderer(_json_line) if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=_CurrentStderrFactory(),
        cache_logger_on_first_use=False,
    )
    structlog.contextvars.bind_contextvars(service=service)
    # The standard library's records (uvicorn, Alembic, drivers) in the same format, on the same stderr.
    handler = _CurrentStderrHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.processors.format_exc_info],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers = [h for h in root.handlers if not isinstance(h, _CurrentStderrHandler)]
    if not root.handlers:  # as logging.basicConfig: a host that set up logging (pytest) keeps its own
        root.addHandler(handler)
        root.setLevel(logging.WARNING)
    for name in _LIBRARIES_AT_SERVICE_LEVEL:
        logging.getLogger(name).setLevel(logging.getLevelName(level.upper()))


def _json_line(event: dict, **options: Any) -> str:
    """The line as orjson writes it (a request's line is a few per cent of a write's CPU through
    ``json``); what orjson refuses (an integer wider than 64 bits) as ``json`` writes it."""
    try:
        return orjson.dumps(event, default=options.get("default"), option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:
        return json.dumps(event, **options)


class _CurrentStderrHandler(logging.StreamHandler):
    """A handler writing to whatever ``sys.stderr`` is at the time of the record (see below)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


class _CurrentStderr:
    """Writes to whatever ``sys.stderr`` is at the time of the write, not at configuration:
    a caller that swaps stderr for a while (a CLI runner, a test) must not leave the
    logger holding a closed file."""

    def msg(self, message: str) -> None:
        stream = sys.stderr
        stream.write(message + "\n")
        stream.flush()

    log = debug = info = warn = warning = err = error = critical = exception = fatal = failure = msg


class _CurrentStderrFactory:
    def __call__(self, *args: object) -> _CurrentStderr:
        return _CurrentStderr()


def get_logger(name: str = "baton") -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)
