"""Prometheus metrics every service exposes at ``/metrics``."""

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter("baton_http_requests_total", "HTTP requests answered", ["service", "method", "route", "status"])
HTTP_LATENCY = Histogram(
    "baton_http_request_seconds",
    "HTTP request latency",
    ["service", "method", "route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
APPENDS = Counter("baton_events_appended_total", "Events appended to the log", ["stream"])
CONFLICTS = Counter("baton_append_conflicts_total", "Appends refused by optimistic concurrency", ["stream"])
STALE_READS = Counter(
    "baton_stale_reads_total",
    "Loads a replica answered with less than the stream leader holds: read again until it caught up, or gave up (503)",
    ["stream", "outcome"],
)
PROJECTED = Counter("baton_projection_events_total", "Events applied by a projection", ["projection"])
PROJECTION_LAG = Gauge(
    "baton_projection_lag_events", "Events in the stream not yet applied by a projection", ["projection"]
)
PROJECTION_FAILURES = Counter("baton_projection_failures_total", "Batches a projection failed to apply", ["projection"])
REACTIONS = Counter("baton_reactions_total", "Events a reaction handled", ["reaction", "outcome"])
