from baton_shared.reactions.on_aggregate import AggregateReaction
from baton_shared.reactions.reaction import CauseNotReady, Reaction, decided_id
from baton_shared.reactions.runner import ReactionRunner

__all__ = ["AggregateReaction", "CauseNotReady", "Reaction", "ReactionRunner", "decided_id"]
