"""What the ops tool knows about: services, their streams, projections and databases."""

from __future__ import annotations

import os
from dataclasses import dataclass

from baton_shared.contracts import STREAMS, StreamSpec
from baton_shared.projections import Projection
from baton_shared.service.settings import BatonSettings


class UsageError(Exception):
    """Exit code 2: the command names something that does not exist."""


class NothingFound(Exception):
    """Exit code 3: nothing matches the id asked about."""


def _intake_projections() -> list[Projection]:
    from baton_intake.projections import own_and_foreign

    return own_and_foreign()


def _delivery_projections() -> list[Projection]:
    from baton_delivery.projections import all_projections

    return all_projections()


PROJECTIONS = {"intake": _intake_projections, "delivery": _delivery_projections, "followup": list}


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    stream: StreamSpec
    database_url: str


def services(settings: BatonSettings | None = None) -> list[ServiceEntry]:
    settings = settings or BatonSettings()
    out = []
    for name, spec in STREAMS.items():
        url = os.environ.get(f"BATON_{name.upper()}_DATABASE_URL") or settings.database_url_for(name)
        out.append(ServiceEntry(name, spec, url))
    return out


def service(name: str, settings: BatonSettings | None = None) -> ServiceEntry:
    for entry in services(settings):
        if entry.name == name:
            return entry
    raise UsageError(f"unknown service {name!r}; known: {', '.join(STREAMS)}")


def service_names(service: str | None) -> list[str]:
    """Every service, or just the one named (a usage error if it does not exist)."""
    if service is None:
        return list(STREAMS)
    if service not in STREAMS:
        raise UsageError(f"unknown service {service!r}; known: {', '.join(STREAMS)}")
    return [service]


def projections_of(name: str) -> list[Projection]:
    return PROJECTIONS.get(name, list)()


def find_projection(qualified: str) -> tuple[ServiceEntry, Projection]:
    """``<service>.<projection>``, e.g. ``intake.clients``."""
    if "." not in qualified:
        raise UsageError(f"name a projection as <service>.<projection>, e.g. intake.clients (got {qualified!r})")
    svc_name, proj_name = qualified.split(".", 1)
    entry = service(svc_name)
    for projection in projections_of(svc_name):
        if projection.name == proj_name:
            return entry, projection
    known = ", ".join(f"{svc_name}.{p.name}" for p in projections_of(svc_name)) or "none"
    raise UsageError(f"unknown projection {qualified!r}; {svc_name} has: {known}")
