from baton_notify.reactions.notices import NoticesOnDelivery, NoticesOnFollowup

__all__ = ["NoticesOnDelivery", "NoticesOnFollowup"]
