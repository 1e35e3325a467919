"""What notify's API takes and answers."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from baton_shared.contracts import registry

from baton_shared.service.http import Position, Timestamp, View
from baton_shared.service.inputs import STRICT, Department, whole


def _time_as_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("a time is text, ISO 8601 with its zone (2027-01-31T08:00:00Z)")
    return value


Time = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_time_as_text)]
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
URL_PATTERN = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[!-~]*)?$"  # printable ASCII; a host name or IPv4
EventType = Literal[tuple(sorted(cls.event_type for cls in registry.types()))]  # every event type Baton knows
SeqNumber = whole(0, 2**53)  # JSON's exact integers


class WebhookIn(BaseModel):
    model_config = STRICT

    url: str = Field(
        min_length=8, max_length=2000, pattern=URL_PATTERN, description="http(s) URL the events are POSTed to"
    )
    event_types: list[EventType] = Field(
        min_length=1, max_length=100, description="event types wanted (see /asyncapi.json of each service)"
    )
    client_id: str | None = Field(None, pattern=UUID_PATTERN, description="only events about this client")
    department: Department | None = Field(None, description="only events for this department")


class EmptyIn(BaseModel):
    model_config = STRICT


class ReplayIn(BaseModel):
    model_config = ConfigDict(**STRICT, json_schema_extra={"minProperties": 1, "maxProperties": 1})

    positions: dict[str, SeqNumber] = Field(  # type: ignore[assignment] - absent: None
        None,
        description="per stream the webhook reads (e.g. INTAKE), the last position NOT to send again; 0: from the start",
    )
    since: Time = Field(None, description="send again every event stored at or after this time")

    @model_validator(mode="after")
    def _one(self) -> ReplayIn:
        if (self.positions is None) == (self.since is None):
            raise ValueError("give either positions or since")

        return self


class WebhookOut(View):
    webhook_id: str
    url: str
    event_types: list[str]
    client_id: str | None
    department: str | None
    owner: str
    status: str
    start_positions: dict[str, int]
    created_at: Timestamp
    version: int


class WebhookCreated(BaseModel):
    ids: dict[str, str]
    position: Position
    appended: int
    secret: str = Field(description="the signing secret (`whsec_…`): shown this once, store it now")


class StreamDeliveries(View):
    stream: str
    position: int = Field(description="the last position the receiver acknowledged (or that was not wanted)")
    head: int
    lag: int
    delivered: int
    attempts: int = Field(description="tries of the delivery failing now (0: none failing)")
    last_error: str | None
    last_error_at: Timestamp | None


class ParkedDelivery(View):
    event_id: str
    stream: str
    seq: int
    event_type: str
    attempts: int
    error: str
    parked_at: Timestamp


class DeliveriesOut(BaseModel):
    webhook_id: str
    streams: list[StreamDeliveries]
    parked: list[ParkedDelivery]
