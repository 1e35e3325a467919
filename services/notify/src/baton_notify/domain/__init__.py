from baton_notify.domain.addresses import AddressRefused, check_url, resolve_allowed
from baton_notify.domain.webhook import ACTIVE, DELETED, PAUSED, Webhook

__all__ = ["ACTIVE", "DELETED", "PAUSED", "AddressRefused", "Webhook", "check_url", "resolve_allowed"]
