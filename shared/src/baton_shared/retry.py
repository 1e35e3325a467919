"""Telling an outage from a fault, and waiting outages out.

An outage (the database or the broker unreachable, starting up, out of connections)
is waited out and the same work tried again; anything else is a fault of the work
itself (an event the code cannot fold, a bug), tried a few times and then given up
on (parked). Projections, reactions, the HTTP layer and start-up all decide the same way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

CONNECTION_FAILURES = (
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError,  # closed in the middle of an operation, failed to connect
    asyncpg.exceptions.CannotConnectNowError,  # the server is starting or shutting down
    asyncpg.exceptions.TooManyConnectionsError,
)


class Outage(Exception):
    """An outage that is no connection error (a cluster replica still behind): waited out."""


def is_transient(exc: BaseException) -> bool:
    """Outages to wait out, as opposed to work the code cannot do."""
    if isinstance(exc, Outage):
        return True
    if isinstance(exc, IntegrityError):
        return False
    if isinstance(exc, (OperationalError, InterfaceError, *CONNECTION_FAILURES)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    # A connection that failed while being made is not "invalidated" (it never was one):
    # PostgreSQL resetting a connection during connect must read as an outage too.
    cause, depth = exc.orig, 0
    while cause is not None and depth < 5:
        if isinstance(cause, CONNECTION_FAILURES):
            return True
        cause, depth = cause.__cause__, depth + 1
    return False


def backoff_seconds(tries: int) -> float:
    """The wait after the ``tries``-th failure: doubling from 0.2 s, at most 5 s."""
    return min(0.1 * 2**tries, 5.0)


async def retry_outages(
    attempt: Callable[[], Awaitable[object]],
    *,
    max_attempts: int,
    on_failure: Callable[[BaseException, int], None],
    between: Callable[[], None],
) -> bool:
    """Run ``attempt`` until it succeeds (True). Outages are waited out, forever, with
    backoff; any other failure is tried ``max_attempts`` times (then False: the caller
    gives up on the work, parking it). ``on_failure(exc, tries)`` records each failure;
    ``between()`` runs before each new try and may raise to stop (a worker stopping)."""
    tries = 0
    while True:
        try:
            await attempt()
        except Exception as exc:  # noqa: BLE001 - classified below
            tries += 1
            on_failure(exc, tries)
            if not is_transient(exc) and tries >= max_attempts:
                return False
            await asyncio.sleep(backoff_seconds(tries))
            between()
        else:
            return True
