"""What the ops tool knows about: services, their streams, projections and databases."""

from __future__ import annotations

import contextlib
import importlib
import os
from dataclasses import dataclass
from pathlib import Path

from baton_shared.contracts import STREAMS, StreamSpec
from baton_shared.projections import Projection
from baton_shared.reactions import Reaction
from baton_shared.service.settings import BatonSettings, read_secret_file, refuse_placeholder, with_password


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


def _followup_projections() -> list[Projection]:
    from baton_followup.projections import all_projections

    return all_projections()


def _notify_projections() -> list[Projection]:
    from baton_notify.projections import all_projections

    return all_projections()


PROJECTIONS = {
    "intake": _intake_projections,
    "delivery": _delivery_projections,
    "followup": _followup_projections,
    "notify": _notify_projections,
}


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
        out.append(ServiceEntry(name, spec, with_password(url, database_password(name))))
    return out


def database_password(name: str) -> str | None:
    """``BATON_<SERVICE>_DATABASE_PASSWORD`` or the file ``BATON_<SERVICE>_DATABASE_PASSWORD_FILE``
    names (compose secrets), put into that service's database URL."""
    variable = f"BATON_{name.upper()}_DATABASE_PASSWORD"
    password = os.environ.get(variable)
    if os.environ.get(f"{variable}_FILE"):
        password = read_secret_file(f"{variable}_FILE", Path(os.environ[f"{variable}_FILE"]))
    refuse_placeholder(variable, password)
    return password


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


@contextlib.asynccontextmanager
async def wired_reactions(entry: ServiceEntry):
    """The service's reactions as its composition root wires them (with the read models
    some of them consult), on the service's database; the engine is disposed afterwards.

    The service is built, never started: a reaction that waits for one of the
    service's projections finds a runner reading the stored checkpoint.
    """
    from baton_shared.contracts import registry, stream_for
    from baton_shared.projections.runner import ProjectionRunner

    composition = importlib.import_module(f"baton_{entry.name}.composition")
    settings = BatonSettings(database_url=entry.database_url, log_level=os.environ.get("BATON_LOG_LEVEL", "WARNING"))
    runtime = composition.create_app(settings).state.runtime
    try:
        for projection in runtime._projections:  # what start() would set up, minus the consuming
            spec = stream_for(projection.source or entry.name)
            runtime.projections.setdefault(
                projection.name, ProjectionRunner(projection, runtime.engine, spec, registry, service=entry.name)
            )
        yield {reaction.name: reaction for reaction in runtime._reactions}, runtime.engine
    finally:
        await runtime.engine.dispose()


def reaction_names(name: str) -> list[str]:
    """A service's reactions by name, without wiring them (their modules' classes)."""
    try:
        module = importlib.import_module(f"baton_{name}.reactions")
    except ModuleNotFoundError as exc:
        if exc.name in (f"baton_{name}", f"baton_{name}.reactions"):
            return []
        raise
    found = [getattr(module, n, None) for n in getattr(module, "__all__", dir(module))]
    return sorted({c.name for c in found if isinstance(c, type) and issubclass(c, Reaction) and hasattr(c, "name")})


@dataclass(frozen=True)
class Owner:
    """Who parked an event: a projection (or a rebuild's copy of one) or a reaction."""

    key: str  # as stored: intake.clients, intake.clients__rebuild, delivery.reaction.intake_requests
    service: ServiceEntry
    projection: Projection | None = None
    reaction: str | None = None  # its name


def find_owner(key: str) -> Owner:
    svc_name, _, rest = key.partition(".")
    entry = service(svc_name)
    if rest.startswith("reaction."):
        name = rest.removeprefix("reaction.")
        if name in reaction_names(svc_name):
            return Owner(key, entry, reaction=name)
        known = ", ".join(f"{svc_name}.reaction.{r}" for r in reaction_names(svc_name)) or "none"
        raise UsageError(f"unknown reaction {key!r}; {svc_name} has: {known}")
    for projection in projections_of(svc_name):
        if rest == projection.name or rest.startswith(projection.name + "__"):
            return Owner(key, entry, projection=type(projection)(rest[len(projection.name) :]))
    known = ", ".join(f"{svc_name}.{p.name}" for p in projections_of(svc_name)) or "none"
    raise UsageError(f"unknown projection {key!r}; {svc_name} has: {known}")
