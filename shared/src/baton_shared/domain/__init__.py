"""Building blocks for service domains. No infrastructure here: no I/O, no broker, no SQL."""

from baton_shared.domain.aggregate import Aggregate
from baton_shared.domain.errors import DomainRuleViolation, NotFound

__all__ = ["Aggregate", "DomainRuleViolation", "NotFound"]
