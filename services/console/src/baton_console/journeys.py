"""A journey's events from all three services' HTTP APIs, merged for the swimlane picture.

Each service answers for its own stream (``/v1/clients/{id}/events``, or
``/v1/journeys/{correlation id}/events`` for one journey), under the person's token, so
the picture shows exactly what that person may read. A service that does not know the
client (a 404: no work handed off yet) has an empty lane; one that cannot answer is named
under the picture instead of failing the page.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from baton_shared.journey_picture import journey_from_timeline, render_svg

from baton_console.gateway import SERVICES, Api, ApiError

MOST = 1000  # events per service in one picture


@dataclass
class Journey:
    items: list[dict] = field(default_factory=list)
    total: int = 0
    missing: dict[str, str] = field(default_factory=dict)  # service -> why its lane is absent

    def svg(self, title: str) -> str:
        if self.missing:
            title += " (not shown: " + "; ".join(f"{s}: {why}" for s, why in self.missing.items()) + ")"
        return render_svg(journey_from_timeline(self.items), title=title)


async def read_journey(api: Api, *, client_id: str | None = None, correlation_id: str | None = None) -> Journey:
    """The client's events (``client_id``) or one journey's (``correlation_id``), every service's.
    A client intake does not know raises intake's ``ApiError`` (404)."""
    path = f"/v1/clients/{client_id}/events" if client_id else f"/v1/journeys/{correlation_id}/events"
    answers = await asyncio.gather(*(api.get(s, path, limit=MOST) for s in SERVICES), return_exceptions=True)
    journey = Journey()
    for service, answer in zip(SERVICES, answers, strict=True):
        if isinstance(answer, ApiError):
            if service == "intake" and client_id and answer.status in (403, 404):
                raise answer
            if answer.status != 404:
                journey.missing[service] = answer.message
            continue
        if isinstance(answer, BaseException):
            raise answer
        journey.items.extend(answer["items"])
        journey.total += answer["total"]
    return journey
