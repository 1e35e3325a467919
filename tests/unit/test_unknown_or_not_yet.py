"""An id a projection does not hold is "not found" only once the projection has caught up."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from baton_shared.service.access import known
from baton_shared.service.problems import ProblemException


class Runner:
    def __init__(self, position: int, head: int, catches_up: bool) -> None:
        self.key, self.position, self.head, self.catches_up = "work_orders", position, head, catches_up

    async def wait_for(self, seq: int, timeout: float) -> bool:
        if self.catches_up:
            self.position = seq
        return self.position >= seq


def request(runner: Runner, broker_away: bool = False) -> SimpleNamespace:
    async def refresh_heads() -> None:
        if broker_away:
            raise ConnectionError("no servers available")

    runtime = SimpleNamespace(
        refresh_heads=refresh_heads,
        settings=SimpleNamespace(read_wait_timeout_seconds=0.01),
        projections={"work_orders": runner},
    )
    return SimpleNamespace(app=SimpleNamespace(state=SimpleNamespace(runtime=runtime)))


async def nothing() -> None:
    return None


async def test_unknown_after_catching_up_is_none() -> None:
    assert await known(request(Runner(5, 9, catches_up=True)), nothing, ("work_orders",)) is None


async def test_a_projection_still_behind_is_not_taken_for_unknown() -> None:
    with pytest.raises(ProblemException) as raised:
        await known(request(Runner(5, 9, catches_up=False)), nothing, ("work_orders",))
    assert raised.value.status_code == 503 and raised.value.headers == {"Retry-After": "1"}


async def test_with_the_broker_away_unknown_is_not_decided() -> None:
    with pytest.raises(ProblemException) as raised:
        await known(request(Runner(9, 9, catches_up=True), broker_away=True), nothing, ("work_orders",))
    assert raised.value.status_code == 503
