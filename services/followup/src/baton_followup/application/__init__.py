"""Follow-up's application layer: commands in, events appended."""

from baton_followup.application.followup import Clock, FollowupApplication, Policies, reactivation_id, utc_now

__all__ = ["Clock", "FollowupApplication", "Policies", "reactivation_id", "utc_now"]
