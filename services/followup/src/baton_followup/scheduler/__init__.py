from baton_followup.scheduler.planner import FollowUpPlanner

__all__ = ["FollowUpPlanner"]
