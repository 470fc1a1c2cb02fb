"""The relay's figures for Prometheus (default registry: the API's /metrics and the worker's metrics server)."""

from prometheus_client import Counter, Gauge

BACKLOG = Gauge("registry_outbox_backlog", "Outbox events still owed", ["topic"])
OLDEST_AGE = Gauge("registry_outbox_oldest_age_seconds", "Age of the oldest outbox event still owed", ["topic"])
DELIVERED = Counter(
    "registry_outbox_delivered_total",
    "Outbox events delivered (classify: results stored; report: job queued, owed until report-worker confirms it)",
    ["topic"],
)
FAILED = Counter("registry_outbox_failures_total", "Outbox delivery attempts that failed (retried later)", ["topic"])
