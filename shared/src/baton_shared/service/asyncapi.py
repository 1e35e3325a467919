"""The AsyncAPI 3.0 document of a service's events, generated from the contracts.

One channel per event type (``<service>.<aggregate>.{aggregate_id}.<EventType>``),
a *send* operation for each event the service publishes and a *receive*
operation for each event it consumes. Each message is the envelope with the
event's pydantic payload schema.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any

from pydantic.json_schema import models_json_schema

from baton_shared.contracts.streams import stream_for
from baton_shared.events.envelope import DomainEvent, Envelope

REF = "#/components/schemas/{model}"


def asyncapi_document(
    service: str,
    published: Iterable[type[DomainEvent]],
    consumed: Iterable[type[DomainEvent]] = (),
    *,
    version: str = "1.0.0",
    nats_url: str = "nats://127.0.0.1:14222",
) -> dict[str, Any]:
    published = list(published)
    consumed = list(consumed)
    everything = {cls.event_type: cls for cls in [*published, *consumed]}
    _, defs = models_json_schema(
        [(cls, "validation") for cls in everything.values()] + [(Envelope, "validation")],
        ref_template=REF,
    )
    schemas = defs.get("$defs", {})
    channels: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, cls in everything.items():
        spec = stream_for(cls.service)
        channels[name] = {
            "address": f"{spec.subject_root}.{cls.aggregate_type}.{{aggregate_id}}.{name}",
            "description": f"Stream {spec.name}. {inspect.getdoc(cls) or ''}".strip(),
            "parameters": {"aggregate_id": {"description": f"id of the {cls.aggregate_type}"}},
            "messages": {name: {"$ref": f"#/components/messages/{name}"}},
        }
        messages[name] = {
            "name": name,
            "title": name,
            "summary": inspect.getdoc(cls) or name,
            "contentType": "application/json",
            "headers": {
                "type": "object",
                "properties": {"Nats-Msg-Id": {"type": "string", "description": "= event_id (deduplication)"}},
            },
            "payload": {
                "allOf": [
                    {"$ref": REF.format(model="Envelope")},
                    {
                        "type": "object",
                        "properties": {
                            "event_type": {"const": name},
                            "schema_version": {"const": cls.schema_version},
                            "aggregate_type": {"const": cls.aggregate_type},
                            "payload": {"$ref": REF.format(model=cls.__name__)},
                        },
                    },
                ]
            },
        }
    for cls in published:
        operations[f"publish{cls.event_type}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{cls.event_type}"},
        }
    for cls in consumed:
        operations[f"consume{cls.event_type}"] = {
            "action": "receive",
            "channel": {"$ref": f"#/channels/{cls.event_type}"},
        }
    host = nats_url.split("://", 1)[-1].split(",")[0]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": f"Baton {service} events",
            "version": version,
            "description": (
                f"Events the {service} service publishes on JetStream stream "
                f"{stream_for(service).name} and the events it consumes."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {"nats": {"host": host, "protocol": "nats", "description": "NATS JetStream"}},
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }
