"""Delivery's reactions to other services' events."""

from baton_delivery.reactions.intake_requests import FollowIntakeRequests

REACTIONS = [FollowIntakeRequests()]

__all__ = ["REACTIONS", "FollowIntakeRequests"]
