"""Baton notify: tells other systems (webhooks) what concerns them, in log order."""
