"""The relay's figures for Prometheus (default registry: the API's /metrics and the worker's metrics server)."""

from prometheus_client import Counter, Gauge

BACKLOG = Gauge("registry_outbox_backlog", "Outbox events not yet delivered", ["topic"])
OLDEST_AGE = Gauge("registry_outbox_oldest_age_seconds", "Age of the oldest undelivered outbox event", ["topic"])
DELIVERED = Counter("registry_outbox_delivered_total", "Outbox events delivered", ["topic"])
FAILED = Counter("registry_outbox_failures_total", "Outbox delivery attempts that failed (retried later)", ["topic"])
