"""One JetStream stream per service; subjects name the aggregate and the event type.

``<service>.<aggregate_type>.<aggregate_id>.<EventType>``, e.g.
``intake.client.6c1e….ClientRegistered``: consumers filter by type with
``intake.*.*.ClientRegistered`` and one aggregate's history is
``intake.client.6c1e….*``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")


def check_token(value: str, what: str) -> str:
    """Subjects are built from ids: refuse anything that could widen a subject."""
    if not _TOKEN.match(value):
        raise ValueError(f"{what} {value!r} is not a valid subject token (letters, digits, '-', '_')")
    return value


@dataclass(frozen=True, slots=True)
class StreamSpec:
    name: str  # e.g. INTAKE
    subject_root: str  # e.g. intake

    @property
    def all_subjects(self) -> str:
        return f"{self.subject_root}.>"

    def aggregate_filter(self, aggregate_type: str, aggregate_id: str) -> str:
        check_token(aggregate_type, "aggregate type")
        check_token(aggregate_id, "aggregate id")
        return f"{self.subject_root}.{aggregate_type}.{aggregate_id}.*"

    def subject(self, aggregate_type: str, aggregate_id: str, event_type: str) -> str:
        check_token(event_type, "event type")
        return self.aggregate_filter(aggregate_type, aggregate_id)[:-1] + event_type

    def type_filter(self, event_type: str) -> str:
        return f"{self.subject_root}.*.*.{check_token(event_type, 'event type')}"


STREAMS: dict[str, StreamSpec] = {
    "intake": StreamSpec("INTAKE", "intake"),
    "delivery": StreamSpec("DELIVERY", "delivery"),
    "followup": StreamSpec("FOLLOWUP", "followup"),
    "notify": StreamSpec("NOTIFY", "notify"),
}


def stream_for(service: str) -> StreamSpec:
    try:
        return STREAMS[service]
    except KeyError:
        raise ValueError(f"unknown service {service!r}; known: {', '.join(STREAMS)}") from None
