from baton_shared.reactions.runner import CauseNotReady, Reaction, ReactionRunner

__all__ = ["CauseNotReady", "Reaction", "ReactionRunner"]
