"""Follow-up's application layer: commands in, events appended."""

from baton_followup.application.followup import Clock, FollowupApplication, Policies, at_risk_id, reactivation_id, utc_now

__all__ = ["Clock", "FollowupApplication", "Policies", "at_risk_id", "reactivation_id", "utc_now"]
