"""What every service's application layer is made of: commands, the aggregates of its stream
(read, create, update through the command loop), and what a write answers."""

from baton_shared.application.aggregate_cache import AggregateCache
from baton_shared.application.aggregates import Aggregates
from baton_shared.application.commands import Command
from baton_shared.application.loop import CommandLoop, Decision
from baton_shared.application.written import Clock, Written, answering, require_uuid, utc_now

__all__ = [
    "AggregateCache",
    "Aggregates",
    "Clock",
    "Command",
    "CommandLoop",
    "Decision",
    "Written",
    "answering",
    "require_uuid",
    "utc_now",
]
