"""What a service runs, as its composition root describes it.

Each service's ``composition.parts(settings, engine, runners)`` returns a
:class:`ServiceParts`: the runtime starts exactly these, and the ops tool rebuilds,
verifies and retries parked events with the same objects, built offline.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine

from baton_shared.contracts.streams import StreamSpec, stream_for
from baton_shared.events.registry import EventRegistry
from baton_shared.projections.base import Projection
from baton_shared.projections.runner import ProjectionRunner
from baton_shared.reactions.reaction import Reaction

Runners = Mapping[str, ProjectionRunner]  # a service's projection runners by projection name


@dataclass(frozen=True)
class ServiceParts:
    """A service's projections and reactions, and the streams they read."""

    service: str
    projections: tuple[Projection, ...]
    reactions: tuple[Reaction, ...] = ()
    # What the reactions read through, built on these projections: the service's application
    # reads through the same object rather than building another (None: nothing to share).
    read_models: object | None = None

    @property
    def stream(self) -> StreamSpec:
        """The stream the service appends to."""
        return stream_for(self.service)

    def source_of(self, projection: Projection) -> StreamSpec:
        """The stream ``projection`` reads: another service's when it names one, else the service's own."""
        return stream_for(projection.source) if projection.source else self.stream

    def streams(self) -> list[StreamSpec]:
        """Its own stream first, then every other stream a projection or reaction reads."""
        found = [self.stream, *(self.source_of(p) for p in self.projections), *(r.source for r in self.reactions)]
        return list({spec.name: spec for spec in found}.values())

    def projection(self, name: str) -> Projection:
        for projection in self.projections:
            if projection.name == name:
                return projection
        raise KeyError(f"{self.service} has no projection {name!r}")

    def runner(
        self, projection: Projection, engine: AsyncEngine, registry: EventRegistry, *, batch_size: int = 500
    ) -> ProjectionRunner:
        """The runner of one projection: started by the runtime, or used offline (a reaction that
        waits for a projection then reads its stored checkpoint)."""
        return ProjectionRunner(
            projection, engine, self.source_of(projection), registry, service=self.service, batch_size=batch_size
        )
