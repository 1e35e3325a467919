"""A replicated stream says "wrong last sequence" without a sequence (10164) while another
write to the subject is in flight. It is the same refusal as 10071: for a client's key the
loser uses the winner's once stored; for an append it is a conflict, decided again."""

from __future__ import annotations

from types import SimpleNamespace

import orjson
import pytest

from baton_shared.contracts import STREAMS, registry
from baton_shared.contracts.intake import ClientRegistered
from baton_shared.eventstore.jetstream import JetStreamEventStore
from baton_shared.eventstore.port import ConcurrencyConflict, EventStoreUnavailable, NewEvent
from baton_shared.privacy import JetStreamKeyStore, MasterKey

WINNERS = b"the winner's wrapped key"


class Refused(JetStreamKeyStore):
    """The server refuses this writer's key with ``code``; the winner's shows up after ``reads``."""

    def __init__(self, code: int, reads: int | None) -> None:
        super().__init__(lambda: None, MasterKey(b"m" * 32), provision=False)
        self.code, self.reads, self.asked = code, reads, 0

    async def _request(self, subject, body, headers=None):  # noqa: ANN001
        error = {"code": 400, "err_code": self.code, "description": "wrong last sequence"}
        return SimpleNamespace(data=orjson.dumps({"error": error}), headers={})

    async def get(self, client_id: str) -> bytes | None:
        self.asked += 1
        if self.asked == 1:
            return None  # none yet when this writer looked first
        return WINNERS if self.reads is not None and self.asked > self.reads else None


@pytest.mark.parametrize("code", [10071, 10164])
async def test_the_loser_uses_the_winners_key_once_it_is_stored(code):
    store = Refused(code, reads=3)
    assert await store.create("c1") == WINNERS


async def test_a_winner_that_never_shows_is_an_outage_not_a_500():
    store = Refused(10164, reads=None)
    with pytest.raises(EventStoreUnavailable):
        await store._theirs("c1", patience=0.2)


class InFlight(JetStreamEventStore):
    """A replicated stream refusing an append while another write to the aggregate is in flight."""

    def __init__(self) -> None:
        super().__init__(None, STREAMS["intake"], registry, replicas=3)

    async def _publish(self, messages, subject_filter, expected_version):  # noqa: ANN001
        return {"error": {"code": 400, "err_code": 10164, "description": "wrong last sequence"}}

    async def _stored_after(self, subject_filter, expected_version, ids):  # noqa: ANN001
        return None  # the other write is not this append's


async def test_an_append_refused_as_in_flight_is_a_conflict_decided_again_not_an_outage():
    cid = "9cd229eb-3de6-5612-b2ab-5d4b59bb5ab7"
    registered = ClientRegistered(client_id=cid, name="A", segment="B2B", account_manager="alice")
    event = NewEvent(registered, correlation_id=cid, actor="alice")
    with pytest.raises(ConcurrencyConflict):
        await InFlight().append("client", cid, 0, [event])
