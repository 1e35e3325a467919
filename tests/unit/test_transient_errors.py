"""Which database errors are outages (waited out, 503) and which are faults (500, parked)."""

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from baton_shared.projections.runner import is_transient

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
