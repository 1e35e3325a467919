"""Follow-up's reactions to intake's and delivery's events."""

from baton_followup.reactions.contact_groups import JoinContactGroups
from baton_followup.reactions.delivery_acceptance import FollowDeliveryAcceptance
from baton_followup.reactions.delivery_rejection import FollowDeliveryRejection
from baton_followup.reactions.delivery_work import FollowDeliveryWork
from baton_followup.reactions.intake_clients import FollowIntakeClients

__all__ = [
    "FollowDeliveryAcceptance",
    "FollowDeliveryRejection",
    "FollowDeliveryWork",
    "FollowIntakeClients",
    "JoinContactGroups",
]
