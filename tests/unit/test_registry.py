"""The event registry: decoding, upcasting old versions, refusing what it cannot read."""

from datetime import datetime, timezone

import orjson
import pytest

from baton_shared.events import DomainEvent, Envelope, EventRegistry, UnknownSchemaVersion
from baton_shared.events.registry import MalformedEvent

pytestmark = pytest.mark.unit


class BudgetSet(DomainEvent):
    """v3: amount in cents and an explicit currency (v1 had euros as a float, v2 added currency)."""

    service = "intake"
    event_type = "BudgetSet"
    schema_version = 3
    aggregate_type = "request"

    request_id: str
    amount_cents: int
    currency: str


def registry_with_upcasters() -> EventRegistry:
    registry = EventRegistry()
    registry.register(BudgetSet)

    @registry.upcaster("BudgetSet", 1)
    def v1_to_v2(payload: dict) -> dict:
        return {**payload, "currency": "EUR"}

    @registry.upcaster("BudgetSet", 2)
    def v2_to_v3(payload: dict) -> dict:
        rest = {k: v for k, v in payload.items() if k != "amount"}
        return {**rest, "amount_cents": round(payload["amount"] * 100)}

    return registry


def stored(version: int, payload: dict, event_type: str = "BudgetSet") -> bytes:
    return orjson.dumps(
        Envelope(
            event_id="e1",
            event_type=event_type,
            schema_version=version,
            aggregate_type="request",
            aggregate_id="r1",
            occurred_at=datetime(2020, 1, 1, tzinfo=timezone.utc),
            correlation_id="r1",
            actor="old-writer",
            payload=payload,
        ).model_dump(mode="json")
    )


def test_an_old_version_is_upcast_step_by_step_to_the_current_one():
    registry = registry_with_upcasters()
    recorded = registry.decode(
        "INTAKE", 7, "intake.request.r1.BudgetSet", stored(1, {"request_id": "r1", "amount": 12.5})
    )
    assert recorded.event == BudgetSet(request_id="r1", amount_cents=1250, currency="EUR")
    assert recorded.envelope.schema_version == 1  # the envelope says what was stored
    from_v2 = registry.decode("INTAKE", 8, "s", stored(2, {"request_id": "r1", "amount": 3.0, "currency": "USD"}))
    assert from_v2.event.currency == "USD" and from_v2.event.amount_cents == 300


def test_a_missing_step_or_a_newer_version_is_refused_clearly():
    registry = EventRegistry()
    registry.register(BudgetSet)
    with pytest.raises(UnknownSchemaVersion, match="no upcaster to v2"):
        registry.decode("INTAKE", 1, "s", stored(1, {"request_id": "r1", "amount": 1.0}))
    with pytest.raises(UnknownSchemaVersion, match="newer than this reader"):
        registry.decode("INTAKE", 1, "s", stored(4, {"request_id": "r1"}))


def test_unknown_types_decode_without_a_payload_and_garbage_is_malformed():
    registry = registry_with_upcasters()
    assert registry.decode("INTAKE", 1, "s", stored(1, {"x": 1}, event_type="FromTheFuture")).event is None
    with pytest.raises(MalformedEvent):
        registry.decode("INTAKE", 1, "s", b"{not json")
    with pytest.raises(MalformedEvent):
        registry.decode("INTAKE", 1, "s", stored(3, {"request_id": "r1"}))  # fields missing


def test_an_event_type_cannot_be_registered_twice():
    registry = registry_with_upcasters()

    class Impostor(BudgetSet):
        pass

    with pytest.raises(ValueError, match="registered twice"):
        registry.register(Impostor)
