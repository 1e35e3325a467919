from baton_notify.projections.accounts import AccountsProjection
from baton_notify.projections.agenda import AgendaProjection
from baton_notify.projections.notices import NoticesProjection
from baton_notify.projections.preferences import PreferencesProjection
from baton_notify.projections.webhooks import WebhooksProjection


def all_projections(suffix: str = ""):
    return [
        WebhooksProjection(suffix),
        NoticesProjection(suffix),
        PreferencesProjection(suffix),
        AccountsProjection(suffix),
        AgendaProjection(suffix),
    ]


__all__ = [
    "AccountsProjection",
    "AgendaProjection",
    "NoticesProjection",
    "PreferencesProjection",
    "WebhooksProjection",
    "all_projections",
]
