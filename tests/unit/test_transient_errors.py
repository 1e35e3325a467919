"""Which database errors are outages (waited out, 503) and which are faults (500, parked)."""

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from baton_shared import retry
from baton_shared.retry import is_transient, retry_outages

pytestmark = pytest.mark.unit


class AdaptedError(Exception):
    """What SQLAlchemy's asyncpg adapter raises, the driver's exception as its cause."""


def wrapped(driver_error: Exception) -> DBAPIError:
    adapted = AdaptedError(str(driver_error))
    adapted.__cause__ = driver_error
    return DBAPIError("SELECT 1", None, adapted)


def test_a_connection_reset_while_connecting_is_an_outage():
    # Seen in the fault test: the proxy reset a connection asyncpg was making; it answered 500.
    assert is_transient(wrapped(asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle of operation")))
    assert is_transient(wrapped(asyncpg.exceptions.CannotConnectNowError("the database system is starting up")))
    assert is_transient(wrapped(ConnectionRefusedError(111, "refused")))
    assert is_transient(TimeoutError())


def test_errors_in_the_statement_or_the_data_are_not():
    assert not is_transient(wrapped(asyncpg.exceptions.PostgresSyntaxError("syntax error")))
    assert not is_transient(IntegrityError("INSERT", None, AdaptedError("duplicate key")))
    assert not is_transient(ValueError("a bug"))


async def test_outages_are_waited_out_past_max_attempts_and_faults_are_given_up(monkeypatch):
    monkeypatch.setattr(retry, "backoff_seconds", lambda tries: 0)
    failures: list[int] = []

    def failed(_exc: BaseException, tries: int) -> None:
        failures.append(tries)

    outages = iter([ConnectionRefusedError(111, "refused")] * 5)

    async def through_an_outage() -> None:
        outage = next(outages, None)
        if outage is not None:
            raise outage

    assert await retry_outages(through_an_outage, max_attempts=2, on_failure=failed, between=lambda: None)
    assert failures == [1, 2, 3, 4, 5]

    failures.clear()

    async def a_bug() -> None:
        raise ValueError("a bug")

    assert not await retry_outages(a_bug, max_attempts=3, on_failure=failed, between=lambda: None)
    assert failures == [1, 2, 3]
