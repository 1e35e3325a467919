"""Start-up waits out a broker that cannot answer yet, and only that."""

from types import SimpleNamespace

import pytest
from nats.errors import NoRespondersError, TimeoutError as NatsTimeout

from baton_shared.eventstore.provisioning import JetStreamApiError
from baton_shared.service.runtime import ServiceRuntime, broker_not_ready

pytestmark = pytest.mark.unit


def test_what_counts_as_not_ready_yet():
    assert broker_not_ready(NatsTimeout())
    assert broker_not_ready(NoRespondersError())
    assert broker_not_ready(
        JetStreamApiError(
            "CONSUMER.INFO.X.y",
            {"code": 503, "err_code": 10008, "description": "JetStream system temporarily unavailable"},
        )
    )
    assert not broker_not_ready(
        JetStreamApiError("STREAM.INFO.X", {"code": 404, "err_code": 10059, "description": "stream not found"})
    )
    assert not broker_not_ready(ValueError("a bug"))


async def test_a_step_that_times_out_is_tried_again_and_a_real_error_is_raised_at_once():
    runtime = SimpleNamespace(stopping=False)
    calls = []

    async def flaky():
        calls.append("x")
        if len(calls) < 3:
            raise NatsTimeout()

    await ServiceRuntime.patiently(runtime, "consumer", flaky, first_delay=0.01)
    assert len(calls) == 3

    async def broken():
        calls.append("broken")
        raise KeyError("schema")

    with pytest.raises(KeyError):
        await ServiceRuntime.patiently(runtime, "consumer", broken, first_delay=0.01)
    assert calls.count("broken") == 1


async def test_a_runtime_being_stopped_does_not_wait():
    runtime = SimpleNamespace(stopping=True)

    async def never_ready():
        raise NatsTimeout()

    with pytest.raises(NatsTimeout):
        await ServiceRuntime.patiently(runtime, "consumer", never_ready, first_delay=0.01)
