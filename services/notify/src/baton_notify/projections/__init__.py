from baton_notify.projections.webhooks import WebhooksProjection


def all_projections(suffix: str = ""):
    return [WebhooksProjection(suffix)]


__all__ = ["WebhooksProjection", "all_projections"]
