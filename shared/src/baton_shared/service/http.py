"""HTTP pieces every service's API shares: write answers, pages, who is acting."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypedDict, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from baton_shared import idempotency
from baton_shared.application import Written
from baton_shared.service.access import Identity, authenticated


class Position(BaseModel):
    stream: str
    seq: int = Field(description="Pass as `min_position` (or `Baton-Min-Position`) to read your write.")


class WriteOut(BaseModel):
    ids: dict[str, str | list[str]]
    position: Position
    appended: int = Field(description="events appended by this write (0 when it changed nothing)")


# What reads answer, as their projections store it: times and days as ISO 8601 text.
Timestamp = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Day = Annotated[str, Field(json_schema_extra={"format": "date"})]
Payload = dict[str, Any]  # an event's payload: its shape is the event type's (see /asyncapi.json)


class View(BaseModel):
    """A read's answer: the fields below are always there; a projection may add others."""

    model_config = ConfigDict(extra="allow")


Item = TypeVar("Item")


class Page(BaseModel, Generic[Item]):
    items: list[Item]
    limit: int
    offset: int
    total: int


async def actor(who: Identity = Depends(authenticated)) -> str:
    """Who is acting, recorded as the events' actor: the name of the caller's token."""
    return who.name


async def causation(request: Request) -> str | None:
    """The HTTP call's correlation id (``X-Correlation-Id``, generated when absent)."""
    return getattr(request.state, "correlation_id", None)


class Issued(TypedDict):
    """What every command carries from the HTTP call (``baton_shared.application.Command``)."""

    actor: str
    causation_id: str | None
    key: idempotency.RequestKey | None


async def issued(request: Request, who: str = Depends(actor)) -> Issued:
    """Who issues a write's command, what caused it, and its idempotency key (sent, or made by
    the server): ``SomeCommand(..., **issued)``."""
    return {
        "actor": who,
        "causation_id": getattr(request.state, "correlation_id", None),
        "key": idempotency.request_key(request.scope),
    }


def written(result: Written) -> WriteOut:
    return WriteOut(
        ids=result.ids, position=Position(stream=result.stream, seq=result.position), appended=result.appended
    )
