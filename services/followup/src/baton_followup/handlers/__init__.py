"""Follow-up's reactions to intake's and delivery's events."""

from baton_followup.handlers.delivery_acceptance import FollowDeliveryAcceptance
from baton_followup.handlers.delivery_rejection import FollowDeliveryRejection
from baton_followup.handlers.intake_clients import FollowIntakeClients

__all__ = ["FollowDeliveryAcceptance", "FollowDeliveryRejection", "FollowIntakeClients"]
