"""Fixtures several integration modules share."""

import pytest

from baton_shared.contracts import STREAMS, registry
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.provisioning import provision_stream
from baton_shared.projections.sql import make_engine


@pytest.fixture
async def engine(database_url):
    """A projection engine on each database the suite runs against (SQLite and PostgreSQL)."""
    engine = make_engine(database_url)
    yield engine
    await engine.dispose()


@pytest.fixture
async def store(nats):
    """Intake's event store on a freshly provisioned stream."""
    await provision_stream(nats, STREAMS["intake"])
    return JetStreamEventStore(nats, STREAMS["intake"], registry)
