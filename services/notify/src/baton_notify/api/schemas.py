"""What notify's API takes and answers."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from baton_shared.service.http import Position, Timestamp, View
from baton_shared.service.inputs import STRICT, Department



def _time_as_text(value: object) -> object:
    if not isinstance(value, str):
        raise ValueError("a time is text, ISO 8601 with its zone (2027-01-31T08:00:00Z)")
    return value


Time = Annotated[AwareDatetime, Field(strict=False), BeforeValidator(_time_as_text)]
UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
EVENT_TYPE_PATTERN = r"^[A-Za-z][A-Za-z0-9_]{0,127}$"
STREAM_PATTERN = r"^[A-Z][A-Z0-9_]{0,63}$"


class WebhookIn(BaseModel):
    model_config = STRICT

    url: str = Field(min_length=8, max_length=2000, description="http(s) URL the events are POSTed to")
    event_types: list[str] = Field(
        min_length=1, max_length=100, description="event types wanted (see /asyncapi.json of each service)"
    )
    client_id: str | None = Field(None, pattern=UUID_PATTERN, description="only events about this client")
    department: Department | None = Field(None, description="only events for this department")


class EmptyIn(BaseModel):
    model_config = STRICT


class ReplayIn(BaseModel):
    model_config = ConfigDict(**STRICT, json_schema_extra={"minProperties": 1, "maxProperties": 1})

    positions: dict[str, int] | None = Field(
        None, description="per stream (e.g. INTAKE), the last position NOT to send again; 0 sends from the start"
    )
    since: Time | None = Field(None, description="send again every event stored at or after this time")

    @model_validator(mode="after")
    def _one(self) -> ReplayIn:
        if (self.positions is None) == (self.since is None):
            raise ValueError("give either positions or since")

        for stream, position in (self.positions or {}).items():
            if not re.match(STREAM_PATTERN, stream):
                raise ValueError(f"{stream!r} is not a stream name (e.g. INTAKE)")
            if not 0 <= position <= 2**63 - 1:
                raise ValueError("positions are 0 or more")
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
