from baton_notify.scheduler.digest import MorningDigest

__all__ = ["MorningDigest"]
