from baton_shared.reactions.runner import Reaction, ReactionRunner

__all__ = ["Reaction", "ReactionRunner"]
