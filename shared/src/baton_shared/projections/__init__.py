from baton_shared.projections.base import Projection, RowPerAggregate
from baton_shared.projections.runner import ProjectionRunner

__all__ = ["Projection", "ProjectionRunner", "RowPerAggregate"]
